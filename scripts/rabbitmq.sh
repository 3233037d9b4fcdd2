#!/usr/bin/env bash
# Starts or stops a RabbitMQ broker on 127.0.0.1 only, without systemd, for the tests and the
# demo. "start" reuses a broker that is already running (and says so); "stop" stops only a
# broker that "start" started (it leaves a marker file).
set -euo pipefail
marker=${CHORD_RABBITMQ_MARKER:-/tmp/chordnode-rabbitmq.started}
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
pidfile=/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid

running() { rabbitmqctl -q status >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if running; then
      echo "rabbitmq: a broker is already running; using it"
      exit 0
    fi
    rabbitmq-server -detached
    # await_startup right after -detached fails at once; wait on the pid file instead.
    rabbitmqctl wait "$pidfile" --timeout 120 >/dev/null
    touch "$marker"
    echo "rabbitmq: started on 127.0.0.1:5672"
    ;;
  stop)
    if [ -f "$marker" ]; then
      rabbitmqctl -q shutdown >/dev/null 2>&1 || true
      su rabbitmq -s /bin/sh -c "epmd -kill" >/dev/null 2>&1 || epmd -kill >/dev/null 2>&1 || true
      rm -f "$marker"
      echo "rabbitmq: stopped"
    fi
    ;;
  restart)  # for the tests of a broker that goes away: stop and start the running broker
    rabbitmqctl -q stop_app >/dev/null
    rabbitmqctl -q start_app >/dev/null
    ;;
  *)
    echo "usage: $0 start|stop|restart" >&2
    exit 2
    ;;
esac
