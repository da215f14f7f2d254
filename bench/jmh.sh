#!/usr/bin/env bash
# Micro-benchmarks (JMH) of hot paths: hashing a stream off the event loop, framing, and
# the manager's work on a large catalog (a snapshot's view, a walk through it).
#
#   bench/jmh.sh                 # all of them
#   bench/jmh.sh HashBench       # those whose name matches (any JMH arguments)
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -q -B test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/jmh.classpath
exec java -cp "target/test-classes:target/classes:$(cat target/jmh.classpath)" org.openjdk.jmh.Main "$@"
