# Shared by .ci/run and .ci/latest (sourced, run from the repository root).

# The suite again on PostgreSQL (a throwaway database on the local server, dropped on exit) with Redis for the
# multi-process tests. $1: the virtual environment; further arguments go to pytest.
pg_pass() {
    local venv="$1"; shift
    PG_SERVER="${CI_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
    CI_DB="sdhost_ci_$$"
    PG_VENV="$venv"
    trap '"$PG_VENV"/bin/python .ci/pgdb.py drop "$PG_SERVER" "$CI_DB"' EXIT
    "$venv"/bin/python .ci/pgdb.py create "$PG_SERVER" "$CI_DB"
    SDHOST_DATABASE_URL="$PG_SERVER/$CI_DB" SDHOST_TEST_REDIS_URL="${CI_REDIS_URL:-redis://127.0.0.1:6379/0}" \
        "$venv"/bin/python -m pytest "$@"
}

# tests/ui/ drive Debian's chromium; without it they skip with the reason printed.
install_chromium() {
    if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
        (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
            || echo "chromium could not be installed: tests/ui/ will skip"
    fi
}
