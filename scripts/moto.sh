# Shared by scripts/test and scripts/sandbox: a pinned moto in a venv, started on loopback.
# Source it, then call start_moto; it sets MOTO_URL and stops moto when the shell exits.

MOTO_VERSION="5.2.5"
PRISM_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/prism"
MOTO_VENV="${PRISM_MOTO_VENV:-$PRISM_CACHE/moto-$MOTO_VERSION}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ensure_tools [tmux] — installs missing Debian packages the scripts need (as root, or with
# sudo): curl and python3-venv always, tmux for the dashboard's end-to-end tests.
ensure_tools() {
    local missing=()
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "Installing ${missing[*]} (apt)..." >&2
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "missing: ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
            exit 1
        }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

ensure_moto() {
    if [ -x "$MOTO_VENV/bin/moto_server" ] \
        && "$MOTO_VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        return
    fi
    echo "Installing moto $MOTO_VERSION into $MOTO_VENV (about a minute, once)..." >&2
    command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
    rm -rf "$MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

free_port() {
    "$MOTO_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_moto [PORT] [LOG] — starts moto seeded with the sandbox images and waits until ready.
start_moto() {
    local port="${1:-$(free_port)}" log="${2:-/dev/null}"
    MOTO_STATE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/prism-moto.XXXXXX")"
    "$MOTO_VENV/bin/python" "$REPO_ROOT/scripts/moto-amis.py" \
        "$REPO_ROOT/sandbox/extra-amis.json" "$MOTO_STATE_DIR/amis.json"
    MOTO_AMIS_PATH="$MOTO_STATE_DIR/amis.json" \
        "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    MOTO_PID=$!
    trap stop_moto EXIT
    MOTO_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if curl -fsS "$MOTO_URL/moto-api/" >/dev/null 2>&1; then
            echo "moto $MOTO_VERSION listening on $MOTO_URL" >&2
            return
        fi
        kill -0 "$MOTO_PID" 2>/dev/null || { echo "moto failed to start; see $log" >&2; exit 1; }
        sleep 0.2
    done
    echo "moto did not become ready on $MOTO_URL" >&2
    exit 1
}

stop_moto() {
    if [ -n "${MOTO_PID:-}" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    if [ -n "${MOTO_STATE_DIR:-}" ]; then rm -rf "$MOTO_STATE_DIR"; fi
}

# Points the AWS SDK at moto with dummy credentials, and nowhere else.
aim_aws_at_moto() {
    export AWS_ENDPOINT_URL="$MOTO_URL"
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    unset AWS_PROFILE AWS_SESSION_TOKEN
    export AWS_CONFIG_FILE="$MOTO_STATE_DIR/aws-config" AWS_SHARED_CREDENTIALS_FILE="$MOTO_STATE_DIR/aws-credentials"
    : >"$AWS_CONFIG_FILE"
    : >"$AWS_SHARED_CREDENTIALS_FILE"
    export AWS_EC2_METADATA_DISABLED=true
}
