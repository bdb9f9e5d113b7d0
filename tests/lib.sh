# Shared by tests/run and examples/run (sourced, not executed).
# Sets ROOT, VENV, BIN; provides ensure_venv, build_kernel, hermetic_jupyter.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.cache/venv"
BIN="$ROOT/.cache/target/release/lakehouse-kernel"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Create or update .cache/venv from tests/requirements.txt; pip runs only when the
# requirements (or the Python version) changed since the last successful install.
ensure_venv() {
  local req="$ROOT/tests/requirements.txt" stamp="$VENV/.requirements.stamp" python want
  python=${PYTHON:-$(command -v python3.11 || command -v python3)}
  want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  log "setting up $VENV from tests/requirements.txt"
  rm -f "$stamp"
  if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')" != "${want#* }" ]; then
    rm -rf "$VENV"
  fi
  [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
}

build_kernel() {
  log "cargo build --release"
  (cd "$ROOT" && cargo build --release)
}

# Keep Jupyter's per-user folders inside .cache so nothing from $HOME leaks in or out.
hermetic_jupyter() {
  export JUPYTER_PATH="$ROOT/.cache/jupyter/path"
  export JUPYTER_DATA_DIR="$ROOT/.cache/jupyter/data"
  export JUPYTER_RUNTIME_DIR="$ROOT/.cache/jupyter/runtime"
  export JUPYTER_CONFIG_DIR="$ROOT/.cache/jupyter/config"
  export IPYTHONDIR="$ROOT/.cache/jupyter/ipython"
  export JUPYTER_PLATFORM_DIRS=1
  mkdir -p "$JUPYTER_PATH" "$JUPYTER_DATA_DIR" "$JUPYTER_RUNTIME_DIR" "$JUPYTER_CONFIG_DIR"
}

activate_venv() {
  export VIRTUAL_ENV="$VENV"
  export PATH="$VENV/bin:$PATH"
}
