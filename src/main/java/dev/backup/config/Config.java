package dev.backup.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The whole configuration of one element, built once (flags, then BACKUP_* environment,
 * then the configuration file, then defaults) and passed to the verticles.
 */
public record Config(
    Role role,
    int id,
    String host,
    int port,
    int clusterPort,
    List<String> members,
    String clusterName,
    String managerHost,
    int managerPort,
    Path root,
    String secret,
    boolean secretIsDefault,
    int connectTimeoutMs,
    int idleTimeoutSeconds,
    int ticketTtlSeconds,
    int defaultReplicas,
    int versionsKept,
    int healConcurrency,
    int healPercent,
    int scrubMegabytesPerSecond,
    int scrubIntervalSeconds,
    int reportIntervalMs,
    int heartbeatSeconds,
    int maxNoHeartbeatSeconds) {

  public static final String DEFAULT_SECRET = "backup-default-secret-change-me";

  public String managerAddress() {
    return managerHost + ":" + managerPort;
  }
}
