# Sourced by the GPU check scripts: install infrabench (no index needed) into the machine's Python.
# Wheels of dependencies the machine lacks (e.g. jsonschema, jsonschema-specifications, referencing,
# rpds-py, pyarrow) can be put in ./.whl; they are installed from there first.
PY="${PYTHON:-python3}"
GPU_WORK="$(mktemp -d)"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$GPU_WORK/site" \
    .whl/*.whl && export PYTHONPATH="$GPU_WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -m pip install -q --no-deps --no-build-isolation --no-index -e . >"$GPU_WORK/pip.log" 2>&1; then
  echo "installing infrabench failed:"; tail -5 "$GPU_WORK/pip.log"; exit 2
fi
missing=$("$PY" - <<'PYEOF'
import importlib.util
need = ["numpy", "psutil", "rich", "threadpoolctl", "jsonschema", "jinja2", "matplotlib", "pandas", "scipy",
        "pyarrow", "PIL", "torch", "jax"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
PYEOF
)
[ -z "$missing" ] || echo "missing on this machine (carry wheels in .whl): $missing"
