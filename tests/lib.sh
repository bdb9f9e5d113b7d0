# Shared by tests/run and examples/run (sourced, not executed).
# Sets ROOT, VENV, BIN; provides ensure_venv, build_kernel, hermetic_jupyter, ensure_chromium.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.cache/venv"
# cargo's output lives outside the clone, shared by every clone on this machine (CI's fresh one
# too): the 700 dependencies are compiled once, and cargo's own fingerprints decide what a
# clone rebuilds (its own crates, whose paths differ), so nothing stale is ever used.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakehouse/target}"
# The binary this clone built, kept in the clone (see build_kernel); the kernelspecs, the tests
# (tests/conftest.py) and the benches run it.
BIN="$ROOT/.cache/bin/lakehouse-kernel"
export LAKEHOUSE_KERNEL_BIN="$BIN"

# Each line says how long the script has run, so a slow phase shows in CI's output.
log() { printf '\033[1m==> [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# Create or update .cache/venv from tests/requirements.txt; pip runs only when the
# requirements (or the Python version) changed since the last successful install.
ensure_venv() {
  local req="$ROOT/tests/requirements.txt" stamp="$VENV/.requirements.stamp" python want
  python=${PYTHON:-$(command -v python3.11 || command -v python3)}
  want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    ensure_glue
    return
  fi
  log "setting up $VENV from tests/requirements.txt"
  rm -f "$stamp"
  if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')" != "${want#* }" ]; then
    rm -rf "$VENV"
  fi
  [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
  ensure_glue
}

# The papermill translator (kernelspec/python, package lakehouse_kernel_glue) in .cache/venv;
# reinstalled only when its files changed. Built without isolation with the pinned flit_core.
ensure_glue() {
  local src="$ROOT/kernelspec/python" stamp="$VENV/.glue.stamp" want
  want=$(cd "$src" && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  log "installing kernelspec/python (papermill translator) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall "$src"
  echo "$want" > "$stamp"
}

# Debian's Chromium, for tests/test_lab.py (Playwright cannot download its own browser here).
# Needs root; without it the Lab test fails and says so.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  log "installing chromium (apt-get)"
  local apt=(apt-get install -y -q --no-install-recommends chromium)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null ||
      log "could not install chromium; tests/test_lab.py will fail"
  fi
  return 0
}

# cargo names a workspace crate's outputs by its path relative to the workspace, so every clone
# sharing CARGO_TARGET_DIR writes the same files, and cargo takes another clone's output as
# fresh wherever this clone's sources are older than it (mtimes decide). So the scripts note
# what the workspace crates' fingerprints looked like after their last cargo run here; when they
# changed since (another clone built, by script or by hand), they are forgotten before the next
# cargo run, which then compiles those crates from this clone's sources. The 700 dependencies
# are never touched.
_own_fingerprints() {
  echo "$ROOT"
  find "$CARGO_TARGET_DIR/release/.fingerprint" -maxdepth 2 -path '*/lakehouse-*' -printf '%P %T@\n' 2>/dev/null | sort
}
forget_other_clones_build() {
  local stamp="$CARGO_TARGET_DIR/.lakehouse-fingerprints"
  if [ "$(_own_fingerprints | sha256sum)" != "$(cat "$stamp" 2>/dev/null)" ]; then
    rm -rf "$CARGO_TARGET_DIR"/release/.fingerprint/lakehouse-*
  fi
}
remember_own_build() {
  mkdir -p "$CARGO_TARGET_DIR"
  _own_fingerprints | sha256sum > "$CARGO_TARGET_DIR/.lakehouse-fingerprints"
}
# cargo, with the guard above around it.
own_cargo() {
  forget_other_clones_build
  (cd "$ROOT" && cargo "$@")
  remember_own_build
}

build_kernel() {
  log "cargo build --release"
  own_cargo build --release
  # Another clone's build replaces the shared target's binary at any moment: the tests and the
  # kernelspecs use this clone's own (a hard link where the file system allows, which cargo's
  # next build of the shared one leaves alone).
  mkdir -p "$(dirname "$BIN")"
  ln -f "$CARGO_TARGET_DIR/release/lakehouse-kernel" "$BIN" 2>/dev/null ||
    cp -f "$CARGO_TARGET_DIR/release/lakehouse-kernel" "$BIN"
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
