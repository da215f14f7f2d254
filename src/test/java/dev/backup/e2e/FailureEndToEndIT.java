package dev.backup.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import io.vertx.core.json.JsonObject;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/** Losing machines loses nothing: healing, reconciliation, a manager that restarts, scrub. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FailureEndToEndIT extends EndToEndBase {
  @BeforeAll
  static void start() throws Exception {
    startCluster(Map.of("BACKUP_SCRUB_INTERVAL_SECONDS", "2", "BACKUP_SCRUB_MBPS", "500"));
  }

  /** name@version -> holder ids, from the manager (over the protocol, fast). */
  static Map<String, List<Integer>> holders() {
    Map<String, List<Integer>> out = new HashMap<>();
    JsonObject list = cluster.fastRequest(new JsonObject().put("op", "list"));
    for (Object o : list.getJsonArray("files")) {
      JsonObject f = (JsonObject) o;
      for (Object vo : f.getJsonArray("versions")) {
        JsonObject v = (JsonObject) vo;
        List<Integer> ids = new ArrayList<>();
        v.getJsonArray("replicas").forEach(x -> ids.add((Integer) x));
        out.put(f.getString("name") + "@" + v.getLong("version"), ids);
      }
    }
    return out;
  }

  static Map<String, java.util.Set<Integer>> asSets(Map<String, List<Integer>> holders) {
    Map<String, java.util.Set<Integer>> out = new HashMap<>();
    holders.forEach((k, v) -> out.put(k, new java.util.TreeSet<>(v)));
    return out;
  }

  static long waitUntil(Duration max, BooleanSupplier condition) throws InterruptedException {
    long start = System.currentTimeMillis();
    while (System.currentTimeMillis() - start < max.toMillis()) {
      if (condition.getAsBoolean()) {
        return System.currentTimeMillis() - start;
      }
      Thread.sleep(100);
    }
    return -1;
  }

  static void assertExactCopies(String name, int version, Path original, List<Integer> ids) throws Exception {
    for (int id : ids) {
      Path copy = cluster.serverRoot(id).resolve("files").resolve(name + ".v" + version);
      assertThat(Files.mismatch(copy, original)).as(name + " on server " + id).isEqualTo(-1L);
    }
  }

  @Test
  @Order(1)
  void aKilledServersCopiesAreHealedAndReconciledWhenItReturns() throws Exception {
    Files.createDirectories(root().resolve("twenty"));
    for (int i = 0; i < 20; i++) {
      TestSupport.randomFile(root().resolve("twenty/f" + i + ".bin"), 200_000 + i * 1000L, 100 + i);
    }
    Files.writeString(root().resolve("twenty-extra.txt"), "deleted while its server is down");
    ok("backup", "twenty", "twenty-extra.txt", "--replicas", "2");
    Map<String, List<Integer>> before = holders();
    Map<Integer, Integer> counts = new HashMap<>();
    before.values().forEach(ids -> ids.forEach(id -> counts.merge(id, 1, Integer::sum)));
    int victim = counts.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    List<String> lost = before.entrySet().stream().filter(e -> e.getValue().contains(victim)).map(Map.Entry::getKey).toList();
    assertThat(lost).isNotEmpty();

    cluster.killServer(victim);
    long healed = waitUntil(Duration.ofSeconds(30), () -> holders().entrySet().stream()
        .allMatch(e -> e.getValue().size() == 2 && !e.getValue().contains(victim)));
    assertThat(healed).as("ms until every file had 2 copies again without server " + victim).isBetween(0L, 30_000L);
    for (int i = 0; i < 20; i++) {
      assertExactCopies("twenty/f" + i + ".bin", 1, root().resolve("twenty/f" + i + ".bin"),
          holders().get("twenty/f" + i + ".bin@1"));
    }
    JsonObject health = cluster.fastStatus().getJsonObject("health");
    assertThat(health.getInteger("underReplicated")).isZero();

    // While it is down one of its files is deleted; when it returns, its copies that are
    // no longer wanted (replaced by healing, or deleted) are removed.
    ok("delete", "twenty-extra.txt");
    assertThat(TestSupport.filesUnder(cluster.serverRoot(victim).resolve("files"))).isNotEmpty();
    cluster.startServer(victim);
    cluster.awaitAlive(4, Duration.ofSeconds(60));
    long reconciled = waitUntil(Duration.ofSeconds(15), () -> {
      try {
        return TestSupport.filesUnder(cluster.serverRoot(victim).resolve("files")).stream()
            .filter(n -> !n.endsWith(".meta"))
            .allMatch(n -> {
              String key = n.substring(0, n.lastIndexOf(".v")) + "@" + n.substring(n.lastIndexOf(".v") + 2);
              List<Integer> ids = holders().get(key);
              return ids != null && ids.contains(victim);
            });
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertThat(reconciled).as("the returning server dropped the copies nobody wants").isNotNegative();
    assertThat(holders().values()).allSatisfy(ids -> assertThat(ids).hasSize(2));
  }

  @Test
  @Order(2)
  void aDamagedCopyIsFoundByScrubAndRepaired() throws Exception {
    Path f = TestSupport.randomFile(root().resolve("scrubbed.bin"), 2 << 20, 55);
    ok("backup", "scrubbed.bin");
    int victim = holders().get("scrubbed.bin@1").get(0);
    Path copy = cluster.serverRoot(victim).resolve("files/scrubbed.bin.v1");
    try (RandomAccessFile raf = new RandomAccessFile(copy.toFile(), "rw")) {
      raf.seek(1000);
      int b = raf.read();
      raf.seek(1000);
      raf.write(b ^ 0xff);
    }
    long repaired = waitUntil(Duration.ofSeconds(30), () -> {
      List<Integer> ids = holders().get("scrubbed.bin@1");
      if (ids.size() != 2) {
        return false;
      }
      try {
        for (int id : ids) {
          if (Files.mismatch(cluster.serverRoot(id).resolve("files/scrubbed.bin.v1"), f) != -1L) {
            return false;
          }
        }
        return true;
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertThat(repaired).as("ms until the damaged copy was replaced").isNotNegative();
    assertThat(ok("verify", "scrubbed.bin").out()).contains("all good");
  }

  @Test
  @Order(2)
  void aCopyWhoseMetadataIsDamagedButWhoseBytesAreRightIsKeptAndItsMetadataRewritten() throws Exception {
    Path f = TestSupport.randomFile(root().resolve("meta-rot.bin"), 1 << 20, 56);
    ok("backup", "meta-rot.bin");
    int victim = holders().get("meta-rot.bin@1").get(0);
    Path copy = cluster.serverRoot(victim).resolve("files/meta-rot.bin.v1");
    Path meta = copy.resolveSibling("meta-rot.bin.v1.meta");
    Object inode = Files.getAttribute(copy, "unix:ino");
    String sha = dev.backup.storage.BlobStore.sha256(f);
    String good = Files.readString(meta);
    assertThat(good).contains(sha);
    // One hex digit of the checksum in the metadata rots: scrub finds bytes and checksum
    // disagree. The bytes are the catalog's: the copy is kept and its metadata rewritten.
    String flipped = sha.substring(0, 63) + (sha.charAt(63) == '0' ? '1' : '0');
    Files.writeString(meta, good.replace(sha, flipped));
    long repaired = waitUntil(Duration.ofSeconds(30), () -> {
      try {
        return Files.readString(meta).contains(sha);
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertThat(repaired).as("ms until the metadata was rewritten").isNotNegative();
    assertThat(Files.getAttribute(copy, "unix:ino")).as("the same copy, never removed and made again").isEqualTo(inode);
    assertThat(Files.mismatch(copy, f)).isEqualTo(-1L);
    assertThat(holders().get("meta-rot.bin@1")).hasSize(2).contains(victim);
    assertThat(ok("verify", "meta-rot.bin").out()).contains("all good");
  }

  @Test
  @Order(3)
  void aManagerKilledAndRestartedKeepsItsCatalog() throws Exception {
    Files.writeString(root().resolve("before-crash.txt"), "kept across a manager crash");
    ok("backup", "before-crash.txt");
    String listBefore = ok("list", "--json").out();
    cluster.killManager();
    cluster.startManager();
    cluster.awaitAlive(4, Duration.ofSeconds(60));
    assertThat(new JsonObject(ok("list", "--json").out()).encodePrettily()).isEqualTo(new JsonObject(listBefore).encodePrettily());
    Files.writeString(root().resolve("after-crash.txt"), "backed up after the restart");
    ok("backup", "after-crash.txt");
    ok("restore", "before-crash.txt", "--to", "before-crash-restored.txt");
    assertThat(Files.readString(root().resolve("before-crash-restored.txt"))).isEqualTo("kept across a manager crash");
  }

  @Test
  @Order(4)
  void aWholeClusterRestartRebuildsTheCatalogFromTheServers() throws Exception {
    Files.writeString(root().resolve("rebuilt.txt"), "found again on the servers");
    ok("backup", "rebuilt.txt", "--replicas", "3");
    Map<String, List<Integer>> before = holders();
    cluster.killAll();
    // The manager's machine is lost: its catalog is gone too.
    try (var files = Files.list(cluster.root("manager"))) {
      for (java.nio.file.Path p : files.filter(p -> p.getFileName().toString().startsWith("catalog")).toList()) {
        Files.delete(p);
      }
    }
    cluster.startManager();
    cluster.ensureAllServersRunning(4);
    // Every server reports its inventory as it comes alive: wait for all of them.
    long rebuilt = waitUntil(Duration.ofSeconds(30), () -> asSets(holders()).equals(asSets(before)));
    assertThat(rebuilt).as("catalog rebuilt from the servers' inventories: " + holders() + " vs " + before)
        .isNotNegative();
    Map<String, List<Integer>> after = holders();
    before.forEach((k, ids) -> assertThat(after.get(k)).as(k).containsExactlyInAnyOrderElementsOf(ids));
    ok("restore", "rebuilt.txt", "--to", "rebuilt-restored.txt");
    assertThat(Files.readString(root().resolve("rebuilt-restored.txt"))).isEqualTo("found again on the servers");
    Files.writeString(root().resolve("rebuilt.txt"), "a second version");
    assertThat(ok("backup", "rebuilt.txt").out()).contains("version 2");
  }

  @Test
  @Order(5)
  void chaosFourClientsBackingUpWhileAServerIsKilled() throws Exception {
    Map<String, Path> files = new HashMap<>();
    for (int c = 0; c < 4; c++) {
      for (int i = 0; i < 13 && files.size() < 50; i++) {
        String name = "chaos/c" + c + "/f" + i + ".bin";
        files.put(name, TestSupport.randomFile(root().resolve(name), 50_000 + (c * 13 + i) * 20_000L, 1000 + c * 13 + i));
      }
    }
    List<ClusterProcesses.Running> clients = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      clients.add(cluster.clientProcess("backup", "chaos/c" + c));
    }
    Thread.sleep(400 + new java.util.Random().nextInt(600));
    int victim = 1 + new java.util.Random().nextInt(4);
    cluster.killServer(victim);
    List<String> succeeded = new ArrayList<>();
    for (ClusterProcesses.Running r : clients) {
      ClusterProcesses.Result res = r.await();
      for (String line : res.out().split("\n")) {
        if (line.startsWith("backed up ")) {
          succeeded.add(line.substring("backed up ".length(), line.indexOf(" (")));
        }
      }
    }
    assertThat(succeeded).isNotEmpty();
    // Every backup reported done has (after healing) R byte-exact copies on live servers.
    // (So has every other version the catalog holds, a backup whose client gave up after
    // its commit included: no heal of those is left to start after the look for partial
    // files below.)
    long healed = waitUntil(Duration.ofSeconds(40), () -> {
      Map<String, List<Integer>> h = holders();
      return succeeded.stream().allMatch(n -> h.containsKey(n + "@1"))
          && h.entrySet().stream().filter(e -> e.getKey().startsWith("chaos/"))
              .allMatch(e -> e.getValue().size() == 2 && !e.getValue().contains(victim));
    });
    assertThat(healed).as("every version (every reported backup among them) has 2 copies without server " + victim)
        .isNotNegative();
    Map<String, List<Integer>> h = holders();
    for (String n : succeeded) {
      assertExactCopies(n, 1, files.get(n), h.get(n + "@1"));
    }
    // Nothing partial left anywhere once the transfers have ended: a heal of a file whose
    // backup was not reported done (its client gave up on it) may still be streaming now.
    long clean = waitUntil(Duration.ofSeconds(30), () -> {
      for (int id = 1; id <= 4; id++) {
        try {
          if (id != victim && !TestSupport.filesUnder(cluster.serverRoot(id).resolve(".bk-tmp")).isEmpty()) {
            return false;
          }
        } catch (java.io.IOException e) {
          return false;
        }
      }
      return true;
    });
    for (int id = 1; id <= 4; id++) {
      if (id != victim) {
        assertThat(TestSupport.filesUnder(cluster.serverRoot(id).resolve(".bk-tmp"))).as("server " + id
            + " (waited " + clean + " ms)").isEmpty();
      }
    }
    assertThat(TestSupport.filesUnder(root())).noneMatch(n -> n.contains(".bk-part"));
    // And a restore of everything reported done is byte-exact.
    ok("restore", "chaos", "--to", "chaos-restored");
    for (String n : succeeded) {
      assertThat(Files.mismatch(root().resolve("chaos-restored").resolve(n.substring("chaos/".length())), files.get(n)))
          .as(n).isEqualTo(-1L);
    }
  }

  @Test
  @Order(6)
  void backupsInFlightWhenTheManagerDiesFailCleanlyAndCanBeRetried() throws Exception {
    Map<String, Path> files = new HashMap<>();
    for (int i = 0; i < 60; i++) {
      String name = "inflight/f" + i + ".bin";
      files.put(name, TestSupport.randomFile(root().resolve(name), 1_500_000 + i * 1000L, 5000 + i));
    }
    ClusterProcesses.Running running = cluster.clientProcess("backup", "inflight");
    // Kill the manager once the backup is under way (its first file reported done).
    long underWay = waitUntil(Duration.ofSeconds(60), () -> {
      try {
        return Files.readString(running.out()).contains("backed up ");
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertThat(underWay).as("the backup got under way").isNotNegative();
    cluster.killManager();
    long killed = System.nanoTime();
    boolean ended = running.process().waitFor(90, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(ended).as(() -> {
      try {
        return "the client gives up, it does not hang; its output:\n" + Files.readString(running.out())
            + Files.readString(running.err()) + "\n" + cluster.logs();
      } catch (java.io.IOException e) {
        return e.toString();
      }
    }).isTrue();
    System.out.printf("client gave up %d ms after the manager was killed%n", (System.nanoTime() - killed) / 1_000_000);
    ClusterProcesses.Result res = running.await();
    assertThat(res.exit()).as("exit status; stderr: " + res.err()).isNotZero();
    assertThat(res.err()).contains("manager");
    List<String> reported = new ArrayList<>();
    for (String line : res.out().split("\n")) {
      if (line.startsWith("backed up ")) {
        reported.add(line.substring("backed up ".length(), line.indexOf(" (")));
      }
    }
    assertThat(reported).as("not everything was done before the manager died").hasSizeLessThan(files.size());
    // No half-written file on any server.
    long clean = waitUntil(Duration.ofSeconds(30), () -> java.util.stream.IntStream.rangeClosed(1, 4)
        .allMatch(id -> {
          try {
            return TestSupport.filesUnder(cluster.serverRoot(id).resolve(".bk-tmp")).isEmpty();
          } catch (java.io.IOException e) {
            return false;
          }
        }));
    assertThat(clean).as("temporary files gone from the servers").isNotNegative();

    cluster.startManager();
    cluster.awaitAlive(4, Duration.ofSeconds(60));
    // Every file reported done before the crash is still known after it.
    long known = waitUntil(Duration.ofSeconds(30), () -> reported.stream().allMatch(n -> holders().containsKey(n + "@1")));
    assertThat(known).as("files reported done are in the restarted manager's catalog").isNotNegative();
    // The same command again finishes the job.
    ok("backup", "inflight");
    ok("restore", "inflight", "--to", "inflight-restored");
    for (Map.Entry<String, Path> e : files.entrySet()) {
      Path restored = root().resolve("inflight-restored").resolve(e.getKey().substring("inflight/".length()));
      assertThat(Files.mismatch(restored, e.getValue())).as(e.getKey()).isEqualTo(-1L);
    }
  }
}
