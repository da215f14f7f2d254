package dev.backup.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** The real jar: a manager and four servers as separate JVMs, the client as one-shot commands. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BackupEndToEndIT extends EndToEndBase {
  @BeforeAll
  static void start() throws Exception {
    startCluster(java.util.Map.of());
  }

  static JsonObject version(JsonObject list, String name) {
    for (Object o : list.getJsonArray("files")) {
      JsonObject f = (JsonObject) o;
      if (f.getString("name").equals(name)) {
        JsonArray vs = f.getJsonArray("versions");
        return vs.getJsonObject(vs.size() - 1).put("wanted", f.getInteger("replicas"));
      }
    }
    return null;
  }

  /** Asserts that {@code name} has exactly R byte-exact copies, on R distinct servers, and nothing else anywhere. */
  static void assertCopies(String name, Path original, int r) throws Exception {
    JsonObject list = cluster.client("list", "--json").json();
    JsonObject v = version(list, name);
    assertThat(v).as("catalog entry for " + name).isNotNull();
    assertThat(v.getString("sha256")).isEqualTo(TestSupport.sha256(original));
    assertThat(v.getLong("size")).isEqualTo(Files.size(original));
    assertThat(v.getInteger("wanted")).isEqualTo(r);
    List<Integer> holders = new ArrayList<>();
    v.getJsonArray("replicas").forEach(x -> holders.add((Integer) x));
    assertThat(holders).hasSize(r).doesNotHaveDuplicates();
    Set<Integer> onDisk = new HashSet<>();
    for (int id = 1; id <= 4; id++) {
      Path copy = cluster.serverRoot(id).resolve("files").resolve(name + ".v" + v.getLong("version"));
      if (Files.exists(copy)) {
        onDisk.add(id);
        assertThat(Files.mismatch(copy, original)).as("copy on server " + id).isEqualTo(-1L);
        assertThat(Files.readString(copy.resolveSibling(copy.getFileName() + ".meta")))
            .contains(v.getString("sha256"));
      }
    }
    assertThat(onDisk).containsExactlyInAnyOrderElementsOf(holders);
  }

  static void assertNoTempFiles() throws Exception {
    for (int id = 1; id <= 4; id++) {
      assertThat(TestSupport.filesUnder(cluster.serverRoot(id).resolve(".bk-tmp"))).as("temp files of server " + id).isEmpty();
    }
  }

  @Test
  @Order(1)
  void statusShowsFourLiveServersAsJson() throws Exception {
    JsonObject s = cluster.status();
    assertThat(s.getJsonArray("servers")).hasSize(4);
    for (Object o : s.getJsonArray("servers")) {
      JsonObject srv = (JsonObject) o;
      assertThat(srv.getBoolean("alive")).isTrue();
      assertThat(srv.fieldNames()).contains("id", "alive", "bytes", "files", "freeBytes", "transfers");
      assertThat(srv.getLong("freeBytes")).isPositive();
    }
  }

  @Test
  @Order(2)
  void emptySmallAndLargeFilesLandAsRExactCopies() throws Exception {
    Path root = cluster.clientRoot();
    Files.createDirectories(root.resolve("r3"));
    Files.write(root.resolve("empty.txt"), new byte[0]);
    Files.writeString(root.resolve("small é.txt"), "a small file with an accent: é\n");
    TestSupport.randomFile(root.resolve("big.bin"), 128L << 20, 1);
    Files.write(root.resolve("r3/empty.txt"), new byte[0]);
    Files.writeString(root.resolve("r3/small.txt"), "three copies\n");
    Files.copy(root.resolve("big.bin"), root.resolve("r3/big.bin"));

    ClusterProcesses.Result r2 = cluster.client("backup", "empty.txt", "small é.txt", "big.bin");
    assertThat(r2.exit()).as(r2.err()).isZero();
    assertThat(r2.out()).contains("backed up big.bin").contains("3 of 3 files backed up");
    ClusterProcesses.Result r3 = cluster.client("backup", "r3", "--replicas", "3");
    assertThat(r3.exit()).as(r3.err()).isZero();

    assertCopies("empty.txt", root.resolve("empty.txt"), 2);
    assertCopies("small é.txt", root.resolve("small é.txt"), 2);
    assertCopies("big.bin", root.resolve("big.bin"), 2);
    assertCopies("r3/empty.txt", root.resolve("r3/empty.txt"), 3);
    assertCopies("r3/small.txt", root.resolve("r3/small.txt"), 3);
    assertCopies("r3/big.bin", root.resolve("r3/big.bin"), 3);
    assertNoTempFiles();

    ClusterProcesses.Result human = cluster.client("list");
    assertThat(human.out()).contains("big.bin").contains("128 MiB").contains("3/3");
  }

  @Test
  @Order(3)
  void garbageOnEveryServerPortDoesNotDisturbABackupBesideIt() throws Exception {
    Path f = TestSupport.randomFile(cluster.clientRoot().resolve("beside.bin"), 80L << 20, 7);
    ClusterProcesses.Running backup = cluster.clientProcess("backup", "beside.bin", "--replicas", "4");
    List<CompletableFuture<Void>> garbage = new ArrayList<>();
    for (int id = 1; id <= 4; id++) {
      int port = cluster.serverPort(id);
      garbage.add(CompletableFuture.runAsync(() -> garbage(port)));
    }
    CompletableFuture.allOf(garbage.toArray(new CompletableFuture[0])).get();
    ClusterProcesses.Result r = backup.await();
    assertThat(r.exit()).as(r.err()).isZero();
    assertCopies("beside.bin", f, 4);
    assertNoTempFiles();
  }

  /** Random bytes, a half frame and an HTTP request; each connection must be closed by the server. */
  private static void garbage(int port) {
    byte[][] payloads = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(),
        new byte[] {0x42, 0x4B, 0x55, 0x50, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff},
        randomBytes(10_000)};
    for (byte[] p : payloads) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(p);
        out.flush();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        while (in.read(buf) >= 0) {
          continue;
        }
      } catch (java.net.SocketException closedWhileWriting) {
        // the server may close before reading everything: that is fine
      } catch (Exception e) {
        throw new RuntimeException("server on port " + port + " did not drop a garbage connection", e);
      }
    }
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    new java.util.Random(n).nextBytes(b);
    return b;
  }

  @Test
  @Order(4)
  void badInputGetsOneClearLineAndADistinctExitCode() throws Exception {
    Files.writeString(cluster.clientRoot().resolve("ok.txt"), "ok");
    expectError(2, "leaves the client root", "backup", "../x");
    expectError(2, "absolute path", "backup", "/etc/passwd");
    expectError(3, "no such file", "backup", "missing.txt");
    expectError(2, "at least 1", "backup", "ok.txt", "--replicas", "0");
    expectError(4, "only 4 servers are alive", "backup", "ok.txt", "--replicas", "5");
    expectError(2, "Invalid value", "backup", "ok.txt", "--replicas", "two");
    expectError(2, "Unmatched argument", "frobnicate");
    ClusterProcesses.Result r = cluster.rawClient("--manager", "127.0.0.1:1", "status");
    assertThat(r.exit()).isEqualTo(6);
    assertThat(r.err().strip()).startsWith("error: cannot reach the manager at 127.0.0.1:1").doesNotContain("\n");
    JsonObject list = cluster.client("list", "--json").json();
    assertThat(version(list, "ok.txt")).isNull();
  }

  private static void expectError(int code, String text, String... args) throws Exception {
    ClusterProcesses.Result r = cluster.client(args);
    assertThat(r.exit()).as(String.join(" ", args) + " -> " + r.err()).isEqualTo(code);
    assertThat(r.err().strip()).startsWith("error: ").contains(text).doesNotContain("\n").doesNotContain("Exception");
  }

  @Test
  @Order(5)
  void killingAChainMemberMidBackupIsRetriedElsewhereAndLeavesNoPartialFile() throws Exception {
    Path f = TestSupport.randomFile(cluster.clientRoot().resolve("victim.bin"), 512L << 20, 3);
    ClusterProcesses.Running backup = cluster.clientProcess("backup", "victim.bin", "--replicas", "3");
    int victim = -1;
    long deadline = System.currentTimeMillis() + 60_000;
    while (victim < 0 && System.currentTimeMillis() < deadline) {
      for (int id = 1; id <= 4 && victim < 0; id++) {
        for (String t : TestSupport.filesUnder(cluster.serverRoot(id).resolve(".bk-tmp"))) {
          // The last hop of the chain is "-2": kill it once it has received some data.
          if (t.endsWith("-2.part") && Files.size(cluster.serverRoot(id).resolve(".bk-tmp").resolve(t)) > (20L << 20)) {
            victim = id;
          }
        }
      }
      Thread.sleep(20);
    }
    assertThat(victim).as("a server receiving the last copy").isPositive();
    cluster.fastStatus();
    long killedAt = System.currentTimeMillis();
    cluster.killServer(victim);
    // The manager notices the crash by its watch connection breaking: dead at once, not
    // suspected after seconds of silence (within about a second here; bounded loosely,
    // as the transfer keeps both cores busy meanwhile).
    int dead = victim;
    long noticed = -1;
    String state = null;
    while (System.currentTimeMillis() - killedAt < 10_000) {
      JsonObject status = cluster.fastStatus();
      if (!ClusterProcesses.alive(status).getOrDefault(dead, true)) {
        noticed = System.currentTimeMillis() - killedAt;
        for (Object o : status.getJsonArray("servers")) {
          if (((JsonObject) o).getInteger("id") == dead) {
            state = ((JsonObject) o).getString("state");
          }
        }
        break;
      }
      Thread.sleep(10);
    }
    assertThat(noticed).as("ms until the manager saw server %d dead", dead).isBetween(0L, 2_500L);
    assertThat(state).as("server %d's state when first seen not alive", dead).isEqualTo("dead");

    // The client hears which server failed, and tries again on the servers still alive:
    // the backup ends with three good copies, none on the dead server, and nothing
    // partial anywhere.
    ClusterProcesses.Result r = backup.await();
    assertThat(r.err()).contains("note: victim.bin:").contains("server " + victim).contains("trying again");
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("backed up victim.bin");
    JsonObject v = version(cluster.client("list", "--json").json(), "victim.bin");
    assertThat(v.getJsonArray("replicas").getList()).hasSize(3).doesNotContain(victim);
    assertCopies("victim.bin", f, 3);
    for (int id = 1; id <= 4; id++) {
      if (id != victim) {
        assertThat(TestSupport.filesUnder(cluster.serverRoot(id).resolve(".bk-tmp"))).as("server " + id).isEmpty();
      }
    }
    assertThat(TestSupport.filesUnder(cluster.serverRoot(victim).resolve("files"))).noneMatch(n -> n.startsWith("victim.bin"));
    // The killed server left a temporary file; it is gone as soon as the server starts again.
    cluster.startServer(victim);
    cluster.awaitAlive(4, java.time.Duration.ofSeconds(60));
    assertNoTempFiles();
  }

  @Test
  @Order(6)
  void aFrozenServerIsNoticedWithinFiveSeconds() throws Exception {
    long pid = cluster.pid(2);
    new ProcessBuilder("kill", "-STOP", String.valueOf(pid)).start().waitFor();
    long stoppedAt = System.currentTimeMillis();
    try {
      long noticed = -1;
      while (System.currentTimeMillis() - stoppedAt < 15_000) {
        if (!ClusterProcesses.alive(cluster.fastStatus()).getOrDefault(2, true)) {
          noticed = System.currentTimeMillis() - stoppedAt;
          break;
        }
        Thread.sleep(50);
      }
      assertThat(noticed).as("ms until the manager saw the frozen server").isBetween(0L, 5_000L);
      // Placement avoids it: a backup with R=3 still succeeds on the three others.
      Path f = cluster.clientRoot().resolve("while-frozen.txt");
      Files.writeString(f, "written while server 2 was frozen");
      ClusterProcesses.Result r = cluster.client("backup", "while-frozen.txt", "--replicas", "3");
      assertThat(r.exit()).as(r.err()).isZero();
      JsonObject v = version(cluster.client("list", "--json").json(), "while-frozen.txt");
      assertThat(v.getJsonArray("replicas").getList()).doesNotContain(2);
    } finally {
      new ProcessBuilder("kill", "-CONT", String.valueOf(pid)).start().waitFor();
    }
  }

  @Test
  @Order(7)
  void aProgressBarIsShownOnATerminalAndNothingButResultsInAPipe() throws Exception {
    Path big = cluster.clientRoot().resolve("progress.bin");
    try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(big.toFile(), "rw")) {
      raf.setLength(256L << 20);
    }
    try {
      String cmd = String.join(" ", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
          ClusterProcesses.JAR.toString(), "--role=client", "--manager", "127.0.0.1:" + cluster.managerPort,
          "--root", cluster.clientRoot().toString(), "backup", "progress.bin");
      Path typescript = dir.resolve("typescript.txt");
      ProcessBuilder pb = new ProcessBuilder("script", "-qfec", cmd, "/dev/null")
          .redirectErrorStream(true).redirectOutput(typescript.toFile());
      pb.environment().put("TERM", "xterm");
      pb.environment().remove("NO_COLOR");
      Process p = pb.start();
      assertThat(p.waitFor(180, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      String onTerminal = Files.readString(typescript);
      assertThat(p.exitValue()).as(onTerminal).isZero();
      assertThat(onTerminal).contains("MiB/s").contains("%").contains("backed up progress.bin");

      try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(big.toFile(), "rw")) {
        raf.seek(raf.length() - 1);
        raf.write(1);
      }
      ClusterProcesses.Result piped = cluster.client("backup", "progress.bin");
      assertThat(piped.exit()).as(piped.err()).isZero();
      assertThat(piped.out()).isEqualTo("backed up progress.bin (256 MiB, version 2, 2 copies)\n");
      assertThat(piped.err()).isEmpty();
      ClusterProcesses.Result status = cluster.client("status");
      assertThat(status.out() + status.err()).doesNotContain("\u001B");
    } finally {
      Files.deleteIfExists(big);
      cluster.client("delete", "progress.bin");
    }
  }

  /**
   * A file left alone since its last backup is known unchanged from the client's record of
   * its checksum (kept in the cache folder); one byte changed in place, same size, is still
   * seen and backed up.
   */
  @Test
  @Order(8)
  void aFileLeftAloneIsKnownFromTheClientsRecordAndAByteChangedInPlaceIsNot() throws Exception {
    Path f = TestSupport.randomFile(cluster.clientRoot().resolve("kept/a.bin"), 4L << 20, 81);
    // Records are kept only of files left alone for a while before their read (a minute by default).
    Thread.sleep(1200);
    java.util.Map<String, String> settle = java.util.Map.of("BACKUP_CACHE_SETTLE_SECONDS", "1");
    ClusterProcesses.Result first = cluster.clientWithEnv(settle, "backup", "kept");
    assertThat(first.exit()).as(first.err()).isZero();
    List<String> records = new ArrayList<>();
    try (var files = Files.list(cluster.dir.resolve("client-cache"))) {
      for (Path p : files.toList()) {
        records.addAll(Files.readAllLines(p));
      }
    }
    assertThat(records).anyMatch(l -> l.startsWith("kept/a.bin\t"));
    ClusterProcesses.Result again = cluster.clientWithEnv(settle, "backup", "kept");
    assertThat(again.out()).contains("unchanged kept/a.bin (version 1");
    ClusterProcesses.Result reread = cluster.clientWithEnv(settle, "backup", "kept", "--reread");
    assertThat(reread.exit()).as(reread.err()).isZero();
    assertThat(reread.out()).contains("unchanged kept/a.bin (version 1");

    try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
      raf.seek(1000);
      int b = raf.read();
      raf.seek(1000);
      raf.write(b ^ 1);
    }
    ClusterProcesses.Result changed = cluster.clientWithEnv(settle, "backup", "kept");
    assertThat(changed.exit()).as(changed.err()).isZero();
    assertThat(changed.out()).contains("backed up kept/a.bin (").contains("version 2, 2 copies)");
  }
}
