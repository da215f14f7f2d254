# One image for every element: manager, storage server and client, chosen by the command
# (--role=...) or by BACKUP_* environment variables.
#
# It packages the jar that `mvn package` built (target/backup.jar), as Quarkus's
# Dockerfile.jvm does, so the image needs no Maven and no network at build time:
#
#   mvn -B package -DskipTests && docker build -t backup .
#
# BASE is any Java 17 runtime image; the default is a public one that users pull. The
# container tests pass a base made locally (containers/base.sh).
ARG BASE=docker.io/library/eclipse-temurin:17-jre
FROM ${BASE}

# No RUN step: the image is the base plus files, so it builds anywhere (even where the
# builder cannot set resource limits). The elements run as uid/gid 1000, owner of /data.
COPY --chown=1000:1000 containers/data/ /data/
COPY target/backup.jar /app/backup.jar
COPY conf/ /app/conf/
COPY bin/backup /app/bin/backup

WORKDIR /app
USER 1000:1000
ENV BACKUP_ROOT=/data
VOLUME ["/data"]
EXPOSE 7000-7010 5701

# Asks the element itself (its own --host/--port, from the same environment) whether it answers.
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
  CMD ["sh", "-c", "java -XX:TieredStopAtLevel=1 -Xshare:auto -jar /app/backup.jar health >/dev/null 2>&1"]

# SIGTERM (docker stop) closes the element cleanly: transfers in progress are rolled back.
# The launcher runs java -jar /app/backup.jar (as the process itself, so it gets the
# signal) with a class-data archive kept in the container's /tmp: a restarted container
# starts faster.
ENV JAVA_OPTS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError" BACKUP_CDS_DIR=/tmp/backup-cds
ENTRYPOINT ["/app/bin/backup"]
