#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) for
# keyshift's integration tests and local development. Jars come from Maven Central
# through scripts/kafka/pom.xml; nothing is downloaded from anywhere else.
#
#   scripts/kafka.sh fetch    resolve the broker's jars into $KEYSHIFT_KAFKA_DIR/libs (idempotent)
#   scripts/kafka.sh start    format storage once, start in the background, wait until it serves
#   scripts/kafka.sh stop     SIGTERM, wait, then SIGKILL (idempotent)
#   scripts/kafka.sh kill     SIGKILL at once: a crash, for fault-tolerance tests
#   scripts/kafka.sh status   exit 0 if a broker serves on the port
#   scripts/kafka.sh reset    stop, then delete the data (libs are kept)
#
# Environment (all optional):
#   KEYSHIFT_KAFKA_PORT             client listener port on 127.0.0.1 (default 29092)
#   KEYSHIFT_KAFKA_CONTROLLER_PORT  KRaft controller port (default client port + 1)
#   KEYSHIFT_KAFKA_DIR              jars and default state (default <repo>/.kafka)
#   KEYSHIFT_KAFKA_STATE_DIR        data, config, pid and log of this instance (default KEYSHIFT_KAFKA_DIR);
#                                   lets a test run a private broker next to the shared one
#   KEYSHIFT_KAFKA_VERSION          Kafka version to fetch (default in scripts/kafka/pom.xml)
#   KEYSHIFT_KAFKA_HEAP             JVM heap flags (default "-Xms128m -Xmx512m")
#   KEYSHIFT_KAFKA_START_TIMEOUT_S  seconds to wait for the broker to serve (default 120)
#   KEYSHIFT_KAFKA_STOP_TIMEOUT_S   seconds between SIGTERM and SIGKILL (default 30)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POM="$ROOT/scripts/kafka/pom.xml"
PROBE="$ROOT/scripts/kafka/probe.mjs"

HOST=127.0.0.1
# Below Linux's ephemeral range (32768-60999): while a broker is stopped, a port
# in that range can be given to a client socket (any outgoing connection, or a
# TCP self-connect of a client reconnecting to it), and the restarted broker
# then fails with "Address already in use" (seen once in the broker-restart test).
PORT=${KEYSHIFT_KAFKA_PORT:-29092}
CONTROLLER_PORT=${KEYSHIFT_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
KAFKA_DIR=$(realpath -m "${KEYSHIFT_KAFKA_DIR:-$ROOT/.kafka}")
STATE_DIR=$(realpath -m "${KEYSHIFT_KAFKA_STATE_DIR:-$KAFKA_DIR}")
DEFAULT_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
VERSION=${KEYSHIFT_KAFKA_VERSION:-$DEFAULT_VERSION}
HEAP=${KEYSHIFT_KAFKA_HEAP:--Xms128m -Xmx512m}
START_TIMEOUT_S=${KEYSHIFT_KAFKA_START_TIMEOUT_S:-120}
STOP_TIMEOUT_S=${KEYSHIFT_KAFKA_STOP_TIMEOUT_S:-30}

LIBS="$KAFKA_DIR/libs"
MARKER="$LIBS/.fetched"
DATA="$STATE_DIR/data"
LOG_DIR="$DATA/kraft-combined-logs"
CONFIG="$STATE_DIR/server.properties"
LOG4J_CONFIG="$STATE_DIR/log4j2.properties"
PIDFILE="$STATE_DIR/broker.pid"
LOG="$STATE_DIR/broker.log"
LOCK="$STATE_DIR/.lock"

say() { echo "kafka.sh: $*"; }
die() {
  echo "kafka.sh: error: $*" >&2
  exit 1
}

# The marker records what was fetched; a different version or pom means fetch again.
fetch_id() { echo "$VERSION $(sha256sum "$POM" | cut -d' ' -f1)"; }

cmd_fetch() {
  mkdir -p "$KAFKA_DIR"
  # Instances sharing KAFKA_DIR share libs: one fetch at a time (fd 8, released on exit).
  exec 8>"$KAFKA_DIR/.fetch.lock"
  flock 8
  if [[ -f $MARKER && "$(cat "$MARKER")" == "$(fetch_id)" ]]; then
    say "Kafka $VERSION already fetched into $LIBS"
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch Kafka: apt-get install maven"
  command -v java >/dev/null || die "Java 17+ is required to run Kafka: apt-get install default-jre-headless"
  say "fetching Kafka $VERSION and its runtime dependencies from Maven Central into $LIBS"
  local tmp="$LIBS.tmp.$$"
  rm -rf "$tmp"
  # copy-dependencies on a pom-packaged project: no build, no target/ directory.
  # Quiet: only errors are printed (stripped of the colour codes Maven 3.8 emits anyway).
  if ! mvn -B -q --no-transfer-progress -Dstyle.color=never -f "$POM" -Dkafka.version="$VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 |
    sed -u 's/\x1b\[[0-9;]*m//g'; then
    rm -rf "$tmp"
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$VERSION (see the output above)"
  fi
  ls "$tmp"/kafka_2.13-"$VERSION".jar >/dev/null 2>&1 || die "kafka_2.13-$VERSION.jar missing after fetch"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  fetch_id >"$MARKER"
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# Serving means: the port accepts TCP and a Kafka metadata request lists at least one
# live (unfenced) broker. The second half needs the kafkajs package from node_modules.
serving() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null || return 1
  if [[ -d "$ROOT/node_modules/kafkajs" ]]; then
    node "$PROBE" "$HOST:$PORT" >/dev/null 2>&1
  fi
}

# kill -0 also succeeds on a zombie, which a container's init may never reap.
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# A socket listening on port $1 (from /proc/net/tcp*, state 0A). After a SIGKILL
# the broker's process can look gone while its threads still tear down and hold
# its ports for a moment; a broker started then fails to bind.
port_listening() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v p="$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

wait_ports_free() {
  local started=$SECONDS port
  for port in "$PORT" "$CONTROLLER_PORT"; do
    while port_listening "$port"; do
      if ((SECONDS - started >= 15)); then
        die "port $port is held by another process (not a broker started from $STATE_DIR)"
      fi
      sleep 0.2
    done
  done
}

pid_of_broker() {
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  # Guard against pid reuse: the process must be our broker, started with our config.
  [[ -n $pid ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

# On failure: the first errors logged since this start (the cause; Java's tail is
# usually shutdown noise), then the last lines of the log.
log_tail() {
  local from
  from=$(grep -n '^==== .* kafka.sh start' "$LOG" 2>/dev/null | tail -n 1 | cut -d: -f1) || true
  {
    echo "---- first errors in $LOG since this start ----"
    tail -n +"${from:-1}" "$LOG" 2>/dev/null | grep -E ' (ERROR|FATAL) |Exception: ' | head -n 8 | cut -c1-400 || true
    echo "---- last 25 lines of $LOG ----"
    tail -n 25 "$LOG" 2>/dev/null | cut -c1-400 || echo "(no log)"
    echo "----"
  } >&2
}

write_config() {
  cat >"$CONFIG" <<EOF
# Written by scripts/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$LOG_DIR
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a crash (SIGKILL) the restarted broker cannot register until the old
# registration's session expires (default 9 s); tests crash the broker on purpose.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
# Test helpers send up to 5000 records per request, possibly all to one partition.
message.max.bytes=16777216
log.segment.bytes=104857600
EOF
  cat >"$LOG4J_CONFIG" <<'EOF'
# Written by scripts/kafka.sh. Logs go to stdout, which kafka.sh appends to broker.log.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
EOF
}

format_once() {
  if [[ -f "$LOG_DIR/meta.properties" ]]; then
    return 0
  fi
  local cluster_id
  cluster_id=$(java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>>"$LOG") ||
    die "could not generate a cluster id (see $LOG)"
  say "formatting KRaft storage in $DATA (cluster id $cluster_id)"
  if ! java -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" >>"$LOG" 2>&1; then
    log_tail
    rm -rf "$DATA"
    die "formatting storage failed"
  fi
}

cmd_start() {
  if serving; then
    say "a broker is already serving on $HOST:$PORT"
    return 0
  fi
  cmd_fetch >/dev/null
  local pid
  if pid=$(pid_of_broker); then
    say "broker (pid $pid) is running but not serving yet; waiting"
  else
    rm -f "$PIDFILE"
    mkdir -p "$DATA"
    # Keep one previous log; fault tests restart the broker often.
    if [[ -f $LOG && $(stat -c %s "$LOG") -gt 52428800 ]]; then mv "$LOG" "$LOG.1"; fi
    echo "==== $(date -u +%FT%TZ) kafka.sh start (Kafka $VERSION, port $PORT) ====" >>"$LOG"
    write_config
    format_once
    wait_ports_free
    # setsid: the broker outlives the shell or test runner that started it, and a ^C
    # sent to that runner's process group does not reach it.
    # shellcheck disable=SC2086 # HEAP is a list of JVM flags
    setsid java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
      -cp "$LIBS/*" kafka.Kafka "$CONFIG" </dev/null >>"$LOG" 2>&1 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
    say "started broker (pid $pid), log $LOG"
  fi
  local started=$SECONDS
  while ((SECONDS - started < START_TIMEOUT_S)); do
    if serving; then
      say "broker serving on $HOST:$PORT after $((SECONDS - started))s"
      return 0
    fi
    if ! alive "$pid"; then
      rm -f "$PIDFILE"
      log_tail
      die "broker exited before serving on $HOST:$PORT"
    fi
    sleep 0.5
  done
  log_tail
  die "broker (pid $pid) not serving on $HOST:$PORT after ${START_TIMEOUT_S}s; it is left running, stop it with: scripts/kafka.sh stop"
}

cmd_stop() {
  local signal=${1:-TERM} pid
  if ! pid=$(pid_of_broker); then
    rm -f "$PIDFILE"
    if serving; then
      say "a broker serves on $HOST:$PORT but was not started from $STATE_DIR; leaving it alone"
    else
      say "no broker running"
    fi
    return 0
  fi
  say "stopping broker (pid $pid) with SIG$signal"
  kill "-$signal" "$pid" 2>/dev/null || true
  local started=$SECONDS
  while alive "$pid"; do
    if ((SECONDS - started >= STOP_TIMEOUT_S)); then
      say "broker still running after ${STOP_TIMEOUT_S}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      started=$SECONDS
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  say "broker stopped"
}

cmd_status() {
  if serving; then
    local pid
    pid=$(pid_of_broker) || pid="not started from $STATE_DIR"
    say "serving on $HOST:$PORT (pid $pid)"
    return 0
  fi
  say "not serving on $HOST:$PORT"
  return 1
}

cmd_reset() {
  cmd_stop TERM
  rm -rf "$DATA"
  say "deleted $DATA"
}

# start/stop/reset of one instance are serialized, so parallel test runs don't both format or launch.
with_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$LOCK"
  flock 9
  "$@"
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) with_lock cmd_start ;;
stop) with_lock cmd_stop TERM ;;
kill) with_lock cmd_stop KILL ;;
status) cmd_status ;;
reset) with_lock cmd_reset ;;
*)
  echo "usage: scripts/kafka.sh fetch|start|stop|kill|status|reset" >&2
  exit 2
  ;;
esac
