package dev.backup;

import dev.backup.config.Config;
import dev.backup.config.Role;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/** Helpers shared by the tests. */
public final class TestSupport {
  public static final String SECRET = "test-secret";

  private TestSupport() {
  }

  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * A port free on loopback now, for an element to listen on, taken below the range the
   * system picks the local ports of outgoing connections from (32768 and up on Linux): a
   * port from that range, free when looked at, was seen taken by some connection before the
   * element started ("Address already in use"). Never the same port twice in a test run; Hazelcast's ports in the end-to-end tests are
   * 30000 and up.
   */
  public static int freePort() {
    Random r = new Random();
    for (int i = 0; i < 10_000; i++) {
      int port = 20_000 + r.nextInt(10_000);
      if (!HANDED_OUT.add(port)) {
        continue;
      }
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new java.net.InetSocketAddress("127.0.0.1", port));
        return port;
      } catch (IOException taken) {
        // someone listens there: try another
      }
    }
    throw new IllegalStateException("no free port between 20000 and 29999 on loopback");
  }

  /**
   * How long a test's manager waits after the first report before healing (10 s by default):
   * its servers report every 200 ms, and a test that heals need not wait the default out.
   */
  public static final int HEAL_GRACE_SECONDS = 2;

  public static Config config(Role role, int id, int port, int managerPort, Path root) {
    return config(role, id, port, managerPort, root, 30);
  }

  /** The same with another idle timeout, so that tests of stalled peers run in seconds. */
  public static Config config(Role role, int id, int port, int managerPort, Path root, int idleTimeoutSeconds) {
    return new Config(role, id, "127.0.0.1", port, 5701, List.of("127.0.0.1"), "test", "127.0.0.1",
        managerPort, root, SECRET, false, 3000, idleTimeoutSeconds, 600, 2, 3, 4, 40, HEAL_GRACE_SECONDS, 50, 3600, 200, 1, 5,
        false, null, null, null, null, null, null, 60);
  }

  /** The same configuration with another healing grace (see {@link #HEAL_GRACE_SECONDS}). */
  public static Config healGrace(Config c, int seconds) {
    return timings(c, seconds, c.scrubIntervalSeconds());
  }

  /** The same configuration with a scrub pass every {@code seconds}. */
  public static Config scrubEvery(Config c, int seconds) {
    return timings(c, c.healGraceSeconds(), seconds);
  }

  private static Config timings(Config c, int healGraceSeconds, int scrubIntervalSeconds) {
    return new Config(c.role(), c.id(), c.host(), c.port(), c.clusterPort(), c.members(), c.clusterName(),
        c.managerHost(), c.managerPort(), c.root(), c.secret(), c.secretIsDefault(), c.connectTimeoutMs(),
        c.idleTimeoutSeconds(), c.ticketTtlSeconds(), c.defaultReplicas(), c.versionsKept(), c.healConcurrency(),
        c.healPercent(), healGraceSeconds, c.scrubMegabytesPerSecond(), scrubIntervalSeconds, c.reportIntervalMs(),
        c.heartbeatSeconds(), c.maxNoHeartbeatSeconds(), c.tls(), c.tlsCert(), c.tlsKey(), c.tlsCa(), c.user(),
        c.userSecret(), c.cacheDir(), c.cacheSettleSeconds());
  }

  /** What one run of the command line printed, and its exit code. */
  public record Run(int code, String out, String err) {
  }

  /** Runs the command line (as {@code java -jar backup.jar ARGS}) with this environment. */
  public static Run command(java.util.Map<String, String> env, String... args) {
    java.io.StringWriter out = new java.io.StringWriter();
    java.io.StringWriter err = new java.io.StringWriter();
    int code = dev.backup.cli.Main.commandLine(new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true),
        env).execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  /** A Hazelcast member on loopback for cluster tests: its cluster port, the members it joins through, a cluster name. */
  public static Config member(int id, int clusterPort, List<String> members, String name, String secret, Path root) {
    return member(Role.server, id, clusterPort, members, name, secret, root);
  }

  /** A cluster member of this role (a manager's id is 0). */
  public static Config member(Role role, int id, int clusterPort, List<String> members, String name, String secret,
      Path root) {
    Config base = config(role, id, 0, 0, root);
    return new Config(base.role(), id, "127.0.0.1", 0, clusterPort, members, name, "127.0.0.1", 7000,
        base.root(), secret, false, base.connectTimeoutMs(), base.idleTimeoutSeconds(), base.ticketTtlSeconds(),
        base.defaultReplicas(), base.versionsKept(), base.healConcurrency(), base.healPercent(), base.healGraceSeconds(),
        base.scrubMegabytesPerSecond(), base.scrubIntervalSeconds(), base.reportIntervalMs(),
        base.heartbeatSeconds(), base.maxNoHeartbeatSeconds(), false, null, null, null, null, null, null, 60);
  }

  /** A file of pseudo-random bytes (reproducible from the seed). */
  public static Path randomFile(Path p, long size, long seed) throws IOException {
    Files.createDirectories(p.toAbsolutePath().getParent());
    Random r = new Random(seed);
    byte[] buf = new byte[1 << 20];
    try (var out = Files.newOutputStream(p)) {
      long left = size;
      while (left > 0) {
        r.nextBytes(buf);
        int n = (int) Math.min(buf.length, left);
        out.write(buf, 0, n);
        left -= n;
      }
    }
    return p;
  }

  public static String sha256(Path p) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    byte[] buf = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(p)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** Every regular file under a folder, relative paths with '/'. */
  public static List<String> filesUnder(Path root) throws IOException {
    if (!Files.exists(root)) {
      return List.of();
    }
    // The servers may be removing files while this looks: a file or folder that vanishes
    // between its listing and its visit is simply not there.
    List<String> out = new ArrayList<>();
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        if (attrs.isRegularFile()) {
          out.add(root.relativize(file).toString().replace('\\', '/'));
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (e instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null && !(e instanceof NoSuchFileException)) {
          throw e;
        }
        return FileVisitResult.CONTINUE;
      }
    });
    out.sort(null);
    return out;
  }
}
