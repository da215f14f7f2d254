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
    int healGraceSeconds,
    int scrubMegabytesPerSecond,
    int scrubIntervalSeconds,
    int reportIntervalMs,
    int heartbeatSeconds,
    int maxNoHeartbeatSeconds,
    boolean tls,
    Path tlsCert,
    Path tlsKey,
    Path tlsCa,
    String user,
    String userSecret,
    Path cacheDir,
    int cacheSettleSeconds) {

  public static final String DEFAULT_SECRET = "backup-default-secret-change-me";

  public String managerAddress() {
    return managerHost + ":" + managerPort;
  }

  /** The same configuration with TLS on, from these PEM files (a null path is left unset). */
  public Config withTls(Path cert, Path key, Path ca) {
    return new Config(role, id, host, port, clusterPort, members, clusterName, managerHost, managerPort, root,
        secret, secretIsDefault, connectTimeoutMs, idleTimeoutSeconds, ticketTtlSeconds, defaultReplicas,
        versionsKept, healConcurrency, healPercent, healGraceSeconds, scrubMegabytesPerSecond, scrubIntervalSeconds,
        reportIntervalMs, heartbeatSeconds, maxNoHeartbeatSeconds, true, cert, key, ca, user, userSecret, cacheDir, cacheSettleSeconds);
  }

  /** (client) The same configuration acting as {@code user}, signing in with {@code userSecret} (null: none). */
  public Config withUser(String user, String userSecret) {
    return new Config(role, id, host, port, clusterPort, members, clusterName, managerHost, managerPort, root,
        secret, secretIsDefault, connectTimeoutMs, idleTimeoutSeconds, ticketTtlSeconds, defaultReplicas,
        versionsKept, healConcurrency, healPercent, healGraceSeconds, scrubMegabytesPerSecond, scrubIntervalSeconds,
        reportIntervalMs, heartbeatSeconds, maxNoHeartbeatSeconds, tls, tlsCert, tlsKey, tlsCa, user, userSecret, cacheDir, cacheSettleSeconds);
  }
}
