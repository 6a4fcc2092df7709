#!/bin/sh
# Writes ../java_layouts.log: the Workload events through the real logback 1.2, log4j 1.2 and log4j2
# PatternLayouts (Debian's liblogback-java, liblog4j1.2-java, liblog4j2-java), one "## <format> <library>"
# block per layout, in UTC.
set -e
J=/usr/share/java
OUT=$(mktemp -d)
javac -d "$OUT" -cp "$J/slf4j-api.jar:$J/logback-classic.jar:$J/logback-core.jar:$J/log4j-1.2.jar:$J/log4j-api.jar:$J/log4j-core.jar" ./*.java
run() { # format library pattern
  echo "## $1 $2"
  case $2 in
    logback) cp="$J/slf4j-api.jar:$J/logback-classic.jar:$J/logback-core.jar"; main=LogbackGen ;;
    log4j1) cp="$J/log4j-1.2.jar"; main=Log4j1Gen ;;
    log4j2) cp="$J/log4j-api.jar:$J/log4j-core.jar"; main=Log4j2Gen ;;
  esac
  java -Duser.timezone=UTC -cp "$OUT:$cp" $main "$3"
}
{
  run logback_classic logback '%d{yyyy-MM-dd HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n'
  run logback_classic log4j2 '%d{yyyy-MM-dd HH:mm:ss.SSS} [%t] %-5level %logger{36} - %msg%n'
  run log4j_iso8601 log4j1 '%d [%t] %-5p %c - %m%n'
  run log4j_iso8601 log4j2 '%d [%t] %-5p %c - %m%n'
  run log4j_iso8601 logback '%d [%t] %-5p %c - %m%n'
  run log4j_class_line log4j1 '%d{yyyy-MM-dd HH:mm:ss} %-5p %c{1}:%L - %m%n'
  run log4j_class_line log4j2 '%d{yyyy-MM-dd HH:mm:ss} %-5p %c{1}:%L - %m%n'
  run log4j2_file log4j2 '%d %p %c{1.} [%t] %m%n'
  run dropwizard logback '%-5p [%d{ISO8601,UTC}] %c: %m%n%rEx'
} > ../java_layouts.log
# One event, its time written by every log4j2 %d shorthand (and two named zones) on the same line.
run dates log4j2 '%d{UNIX_MILLIS}|%d{DEFAULT}{Europe/Moscow}|%d{ISO8601}|%d{DATE}|%d{COMPACT}|%d{ISO8601_OFFSET_DATE_TIME_HHCMM}{America/New_York}|%d{UNIX} %-5level %c{1} - %m%n' \
  | grep '^[0-9]' > ../log4j2_dates.txt
rm -r "$OUT"
