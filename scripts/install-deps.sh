#!/usr/bin/env bash
# Installs the Debian 12 packages chordnode builds with; --tests adds what only the tests use
# (headless Chromium for the ring page, gnuplot for the benchmark plots, OpenDHT for the bench's
# side-by-side rows, Python's gRPC for a client generated from proto/ alone, clang's libFuzzer for
# scripts/fuzz.sh, and what --package needs). Safe to run again: it does nothing when every
# package is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libfmt-dev libspdlog-dev libcli11-dev catch2
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  librabbitmq-dev prometheus-cpp-dev
  curl procps python3 rabbitmq-server
)
if [ "${1:-}" = "--tests" ]; then
  packages+=(chromium gnuplot-nox python3-grpcio python3-protobuf python3-pika python3-yaml clang-14 libclang-rt-14-dev
            dhtnode python3-opendht)
fi
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--package" ]; then
  packages+=(help2man dpkg-dev)  # the man page; dpkg-shlibdeps for the package's Depends
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
