package dev.backup.config;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Builds a {@link Config} from, in order of precedence: command-line flags, environment
 * variables ({@code BACKUP_PORT} for key {@code port}), the configuration file
 * ({@code --conf}, {@code BACKUP_CONF}, or {@code conf/backup.properties} when present)
 * and defaults. Keys are the long flag names without dashes: host, port, cluster-port,
 * members, manager, root, cluster-name, secret, tls, tls-cert, tls-key, tls-ca, ...
 */
public final class ConfigLoader {
  public static final Path DEFAULT_CONF = Path.of("conf", "backup.properties");

  private final Map<String, String> flags;
  private final Map<String, String> env;

  public ConfigLoader(Map<String, String> flags, Map<String, String> env) {
    this.flags = new HashMap<>();
    flags.forEach((k, v) -> {
      if (v != null) {
        this.flags.put(k, v);
      }
    });
    this.env = env;
  }

  public static String envName(String key) {
    return "BACKUP_" + key.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  public Config load() {
    Properties file = loadFile();
    Resolver r = new Resolver(file);
    Role role = r.get("role", null) == null ? null : parseRole(r.get("role", null));
    if (role == null) {
      throw new BackupException(ErrorCode.USAGE, "missing --role (manager, server or client)");
    }
    int id = r.getInt("id", 0);
    if (role == Role.server && id <= 0) {
      throw new BackupException(ErrorCode.USAGE, "a server needs --id=N with N >= 1");
    }
    String host = r.get("host", "127.0.0.1");
    int defaultPort = switch (role) {
      case manager -> 7000;
      case server -> 7000 + id;
      case client -> 0;
    };
    int port = r.getInt("port", defaultPort);
    int clusterPort = r.getInt("cluster-port", 5701);
    List<String> members = new ArrayList<>();
    for (String m : r.get("members", "127.0.0.1").split(",")) {
      if (!m.isBlank()) {
        members.add(m.trim());
      }
    }
    String manager = r.get("manager", "127.0.0.1:7000");
    String managerHost = manager;
    int managerPort = 7000;
    int colon = manager.lastIndexOf(':');
    if (colon > 0) {
      managerHost = manager.substring(0, colon);
      managerPort = parseInt("manager", manager.substring(colon + 1));
    }
    String defaultRoot = switch (role) {
      case manager -> "roots/manager";
      case server -> "roots/server-" + id;
      case client -> "roots/client";
    };
    Path root = Path.of(r.get("root", defaultRoot));
    String secret = r.get("secret", Config.DEFAULT_SECRET);
    Config c = new Config(role, id, host, port, clusterPort, List.copyOf(members),
        r.get("cluster-name", "backup"), managerHost, managerPort, root, secret,
        secret.equals(Config.DEFAULT_SECRET),
        r.getInt("connect-timeout-ms", 5000),
        r.getInt("idle-timeout-seconds", 60),
        r.getInt("ticket-ttl-seconds", 600),
        r.getInt("replicas", 2),
        r.getInt("versions", 10),
        r.getInt("heal-concurrency", 4),
        r.getInt("heal-percent", 40),
        r.getInt("heal-grace-seconds", 10),
        r.getInt("scrub-mbps", 20),
        r.getInt("scrub-interval-seconds", 3600),
        r.getInt("report-interval-ms", 500),
        r.getInt("heartbeat-seconds", 1),
        r.getInt("max-no-heartbeat-seconds", 5),
        r.getBoolean("tls", false),
        r.getPath("tls-cert"),
        r.getPath("tls-key"),
        r.getPath("tls-ca"),
        r.get("user", System.getProperty("user.name", "")),
        role == Role.client ? userSecret(r) : null,
        role == Role.client ? cacheDir(r) : null,
        r.getInt("cache-settle-seconds", 60));
    if (c.port() < 0 || c.port() > 65535 || c.managerPort() <= 0 || c.managerPort() > 65535) {
      throw new BackupException(ErrorCode.USAGE, "port out of range");
    }
    if (c.versionsKept() < 1 || c.versionsKept() > 1000) {
      throw new BackupException(ErrorCode.USAGE, "versions must be between 1 and 1000");
    }
    if (c.healPercent() < 1 || c.healPercent() > 100) {
      throw new BackupException(ErrorCode.USAGE, "heal-percent must be between 1 and 100");
    }
    if (c.healGraceSeconds() < 0 || c.healGraceSeconds() > 3600) {
      throw new BackupException(ErrorCode.USAGE, "heal-grace-seconds must be between 0 and 3600");
    }
    if (c.cacheSettleSeconds() < 0) {
      throw new BackupException(ErrorCode.USAGE, "cache-settle-seconds must not be negative");
    }
    if (c.defaultReplicas() < 1) {
      throw new BackupException(ErrorCode.USAGE, "replicas must be at least 1");
    }
    Tls.check(c);
    return c;
  }

  /**
   * (client) The user's secret: the first line of {@code secret-file} (flag, environment or
   * configuration file), else {@code BACKUP_SECRET} from the environment. Never a flag, so
   * it does not show in the process list; never the configuration file's {@code secret},
   * which is the cluster's.
   */
  private String userSecret(Resolver r) {
    String file = r.get("secret-file", null);
    if (file != null) {
      try {
        String s = SmallFiles.read(Path.of(file), 64 * 1024, StandardCharsets.UTF_8).strip();
        int nl = s.indexOf('\n');
        s = (nl < 0 ? s : s.substring(0, nl)).strip();
        if (s.isEmpty()) {
          throw new BackupException(ErrorCode.USAGE, "the secret file " + file + " is empty");
        }
        return s;
      } catch (IOException e) {
        throw new BackupException(ErrorCode.USAGE, "cannot read the secret file " + file + ": " + e.getMessage());
      }
    }
    String env = this.env.get(envName("secret"));
    return env == null || env.isBlank() ? null : env.strip();
  }

  /**
   * (client) Where the client keeps what it knows of its own files (their checksums, so
   * that an unchanged file is not read again): {@code cache-dir}, else
   * {@code $XDG_CACHE_HOME/backup}, else {@code ~/.cache/backup}; {@code off}: nowhere.
   */
  private Path cacheDir(Resolver r) {
    String v = r.get("cache-dir", null);
    if (v != null) {
      return v.equalsIgnoreCase("off") ? null : Path.of(v);
    }
    String xdg = env.get("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank()) {
      return Path.of(xdg, "backup");
    }
    String home = env.getOrDefault("HOME", System.getProperty("user.home", ""));
    return home.isBlank() ? null : Path.of(home, ".cache", "backup");
  }

  private static Role parseRole(String s) {
    try {
      return Role.valueOf(s.trim().toLowerCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new BackupException(ErrorCode.USAGE, "unknown role '" + s + "' (use manager, server or client)");
    }
  }

  private Properties loadFile() {
    Properties p = new Properties();
    String explicit = flags.containsKey("conf") ? flags.get("conf") : env.get(envName("conf"));
    Path path = explicit != null ? Path.of(explicit) : DEFAULT_CONF;
    if (!Files.exists(path)) {
      if (explicit != null) {
        throw new BackupException(ErrorCode.USAGE, "configuration file not found: " + path);
      }
      return p;
    }
    try (Reader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
      p.load(in);
    } catch (IOException e) {
      throw new BackupException(ErrorCode.USAGE, "cannot read configuration file " + path + ": " + e.getMessage());
    }
    return p;
  }

  private static int parseInt(String key, String value) {
    try {
      return Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      throw new BackupException(ErrorCode.USAGE, "'" + key + "' must be a number, not '" + value + "'");
    }
  }

  private final class Resolver {
    private final Properties file;

    Resolver(Properties file) {
      this.file = file;
    }

    String get(String key, String dflt) {
      String v = flags.get(key);
      if (v == null) {
        v = env.get(envName(key));
      }
      if (v == null || v.isEmpty()) {
        v = file.getProperty(key);
      }
      return v == null || v.isEmpty() ? dflt : v.trim();
    }

    int getInt(String key, int dflt) {
      String v = get(key, null);
      return v == null ? dflt : parseInt(key, v);
    }

    boolean getBoolean(String key, boolean dflt) {
      String v = get(key, null);
      if (v == null) {
        return dflt;
      }
      return switch (v.toLowerCase(Locale.ROOT)) {
        case "true", "yes", "on", "1" -> true;
        case "false", "no", "off", "0" -> false;
        default -> throw new BackupException(ErrorCode.USAGE, "'" + key + "' must be true or false, not '" + v + "'");
      };
    }

    Path getPath(String key) {
      String v = get(key, null);
      return v == null ? null : Path.of(v);
    }
  }
}
