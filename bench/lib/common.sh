# Sourced by the bench scripts: the local HTTP server (bench/lib/server.py) they fire against.

# start_server DIR: start the server, wait for its port; sets SERVER_PID and PORT.
start_server() {
  local port_file=$1/port
  python3 "$(dirname "${BASH_SOURCE[0]}")/server.py" "$port_file" &
  SERVER_PID=$!
  for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  [ -s "$port_file" ] || { echo "bench: the local HTTP server did not start" >&2; exit 1; }
  PORT=$(cat "$port_file")
}
