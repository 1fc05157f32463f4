#!/usr/bin/env bash
# Install the open-source RTL tools (iverilog, verilator, yosys, ghdl) when we can; never fail the build.
set -u
need=()
for t in iverilog verilator yosys ghdl; do command -v "$t" >/dev/null 2>&1 || need+=("$t"); done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "datrig: installing open-source RTL tools: ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
    || echo "datrig: could not install ${need[*]}; firmware reports will use the analytic estimate"
else
  echo "datrig: ${need[*]} not found (not root or no apt-get); firmware reports will use the analytic estimate"
fi
exit 0
