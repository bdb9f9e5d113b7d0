"""Python-side glue for the lakehouse Jupyter kernel (SQL cells on DataFusion + Iceberg).

``lakehouse_kernel_glue.papermill_translator`` turns papermill parameters into SQL ``SET``
statements; papermill loads it through a ``papermill.engine`` entry point.
"""

__version__ = "0.1.0"
