#!/usr/bin/env bash
# Starts or stops a RabbitMQ broker on 127.0.0.1 only, without systemd, for the tests and the
# demo. "start" reuses a broker that is already running (and says so); "stop" stops only a
# broker that "start" started (it leaves a marker file).
# Besides plain AMQP on 5672 it listens for AMQP over TLS on 127.0.0.1:5671, with a throw-away CA
# made at start in $tls_dir (ca.pem and ca.key, which the TLS tests sign their certificates with):
# clients must present a certificate of that CA (mutual TLS).
set -euo pipefail
marker=${CHORD_RABBITMQ_MARKER:-/tmp/chordnode-rabbitmq.started}
tls_dir=${CHORD_RABBITMQ_TLS_DIR:-/tmp/chordnode-rabbitmq-tls}
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1

make_tls() {
  rm -rf "$tls_dir"
  mkdir -p "$tls_dir"
  local ossl=(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30)
  "${ossl[@]}" -keyout "$tls_dir/ca.key" -out "$tls_dir/ca.pem" -subj "/CN=chordnode test CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls_dir/broker.key" \
    -out "$tls_dir/broker.csr" -subj "/CN=127.0.0.1" 2>/dev/null
  # rabbitmq-c compares the URL's host with the certificate's DNS names only, so the address is
  # one of them too.
  openssl x509 -req -in "$tls_dir/broker.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca.key" -CAcreateserial \
    -days 30 -out "$tls_dir/broker.pem" -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost') 2>/dev/null
  # The broker runs as the rabbitmq user; the CA key stays root's, for the tests.
  chmod 755 "$tls_dir"
  chmod 644 "$tls_dir/ca.pem" "$tls_dir/broker.pem"
  chmod 600 "$tls_dir/ca.key"
  if id rabbitmq >/dev/null 2>&1; then chown rabbitmq "$tls_dir/broker.key"; fi
  chmod 600 "$tls_dir/broker.key"
}
pidfile=/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid

running() { rabbitmqctl -q status >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if running; then
      echo "rabbitmq: a broker is already running; using it"
      exit 0
    fi
    make_tls
    tls_args="-rabbit ssl_listeners [{\"127.0.0.1\",5671}] -rabbit ssl_options [{cacertfile,\"$tls_dir/ca.pem\"},{certfile,\"$tls_dir/broker.pem\"},{keyfile,\"$tls_dir/broker.key\"},{verify,verify_peer},{fail_if_no_peer_cert,true}]"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} $tls_args"
    rabbitmq-server -detached
    # await_startup right after -detached fails at once; wait on the pid file instead.
    rabbitmqctl wait "$pidfile" --timeout 120 >/dev/null
    touch "$marker"
    echo "rabbitmq: started on 127.0.0.1:5672, and with TLS on 127.0.0.1:5671 (CA $tls_dir/ca.pem)"
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
