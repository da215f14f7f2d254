package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.cluster.Addresses;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A copy reported late, after its file was healed elsewhere, and its server's return. */
class ReconcileTest {
  @TempDir
  Path dir;
  InProcessCluster cluster;

  @AfterEach
  void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aCopyListedOnAServerWhoseInventoryLacksItIsMadeAgain() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    Path f = TestSupport.randomFile(dir.resolve("client/lost.bin"), 30_000, 11);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "lost.bin", 2).await();
    List<Integer> first = cluster.holders("lost.bin");
    assertThat(first).hasSize(2);
    int lostOn = first.get(0);
    // The copy goes behind the system's back (a disk replaced, a hand in the folder) while
    // its server is down; the server comes back without it.
    cluster.killServer(lostOn);
    Path copy = dir.resolve("server-" + lostOn).resolve("files/lost.bin.v" + u.version());
    Files.delete(copy);
    Files.delete(copy.resolveSibling(copy.getFileName() + ".meta"));
    cluster.startServer(lostOn);
    // Its inventory lacks the copy (twice: it is asked again to be sure): no longer counted,
    // and made again (on any server
    // without one, that one included): every copy listed is there, with the file's bytes.
    await().atMost(Duration.ofSeconds(30)).until(() -> cluster.holders("lost.bin").size() == 2
        && cluster.holders("lost.bin").stream().allMatch(id -> sameBytes(id, "lost.bin.v" + u.version(), f)));
  }

  @Test
  void anInventoryInPagesFindsTheOneCopyLostAndKeepsTheOthersCounted() throws Exception {
    ServerVerticle.inventoryPage = 2;
    try {
      cluster = new InProcessCluster(dir, 2);
      List<Path> files = new ArrayList<>();
      List<BackupClient.Uploaded> ups = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        files.add(TestSupport.randomFile(dir.resolve("client/p" + i + ".bin"), 5_000 + i, 40 + i));
        ups.add(cluster.client.upload(files.get(i).toString(), "p" + i + ".bin", 2).await());
      }
      // Server 2 comes back without the copy of p3 (and a copy of p5 without metadata):
      // its inventory goes in three pages.
      cluster.killServer(2);
      Path lost = dir.resolve("server-2/files/p3.bin.v" + ups.get(3).version());
      Files.delete(lost);
      Files.delete(lost.resolveSibling(lost.getFileName() + ".meta"));
      Path bare = dir.resolve("server-2/files/p5.bin.v" + ups.get(5).version() + ".meta");
      Files.delete(bare);
      cluster.startServer(2);
      await().atMost(Duration.ofSeconds(30)).until(() -> cluster.holders("p3.bin").size() == 2
          && sameBytes(2, "p3.bin.v" + ups.get(3).version(), files.get(3)) && Files.exists(bare));
      for (int i = 0; i < 7; i++) {
        assertThat(cluster.holders("p" + i + ".bin")).as("p" + i).containsExactlyInAnyOrder(1, 2);
      }
    } finally {
      ServerVerticle.inventoryPage = 5_000;
    }
  }

  @Test
  void anInventoryIsReadFromTheDiskAPageAtATimeAsTheManagerAnswers() throws Exception {
    ServerVerticle.inventoryPage = 3;
    try {
      cluster = new InProcessCluster(dir, 2);
      List<Path> files = new ArrayList<>();
      for (int i = 0; i < 9; i++) {
        files.add(TestSupport.randomFile(dir.resolve("client/s" + i + ".bin"), 3_000 + i, 60 + i));
        cluster.client.upload(files.get(i).toString(), "s" + i + ".bin", 2).await();
      }
      cluster.killServer(2);
      // Server 2's first inventory after its return: when its first page reaches the manager,
      // every copy left on its disk goes. A server that had read them all before sending
      // (all in memory: millions, for a large one) would still list all nine.
      List<JsonObject> pages = java.util.Collections.synchronizedList(new ArrayList<>());
      cluster.vertx.eventBus().addInboundInterceptor(dc -> {
        if (dc.message().address().equals(Addresses.INVENTORY) && dc.message().body() instanceof JsonObject b
            && b.getInteger("id") == 2 && pages.stream().noneMatch(p -> p.getBoolean("last"))) {
          pages.add(b.copy());
          if (b.getInteger("page") == 0) {
            try (var walk = Files.walk(dir.resolve("server-2/files"))) {
              for (Path p : walk.filter(Files::isRegularFile).toList()) {
                Files.delete(p);
              }
            } catch (java.io.IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          }
        }
        dc.next();
      });
      cluster.startServer(2);
      await().atMost(Duration.ofSeconds(30)).until(() -> pages.stream().anyMatch(p -> p.getBoolean("last")));
      assertThat(pages.get(0).getInteger("page")).isZero();
      assertThat(pages.stream().mapToInt(p -> p.getJsonArray("items").size()).sum()).isEqualTo(3);
      // The copies gone are made again there (those its inventories lack are no longer counted).
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        for (int i = 0; i < 9; i++) {
          if (!cluster.holders("s" + i + ".bin").contains(2) || !sameBytes(2, "s" + i + ".bin.v1", files.get(i))) {
            return false;
          }
        }
        return true;
      });
    } finally {
      ServerVerticle.inventoryPage = 5_000;
    }
  }

  @Test
  void aServerBackCountsItsCopiesForItsReports() throws Exception {
    cluster = new InProcessCluster(dir, 2);
    long bytes = 0;
    for (int i = 0; i < 5; i++) {
      Path f = TestSupport.randomFile(dir.resolve("client/c" + i + ".bin"), 1_000 + i, 90 + i);
      bytes += Files.size(f);
      cluster.client.upload(f.toString(), "c" + i + ".bin", 2).await();
    }
    cluster.killServer(1);
    // While it is down, a copy of a version the catalog does not know goes into its root
    // (a catalog's loss, say): its count at its return is 6, which only its new count can say
    // (the manager keeps the last counts it heard, 5). The copy is adopted, not removed.
    dev.backup.storage.BlobStore store = new dev.backup.storage.BlobStore(dir.resolve("server-1"));
    Path extra = store.replicaPath("extra.bin", 1);
    Files.createDirectories(extra.getParent());
    Files.writeString(extra, "extra");
    Files.writeString(store.metaPath("extra.bin", 1), new dev.backup.storage.ReplicaMeta("extra.bin", 1, 5,
        java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest("extra".getBytes())),
        1, 1).toJson().encode());
    cluster.startServer(1);
    long expected = bytes + 5;
    // (Counted in the background once it serves: its reports carry the count when it ends.)
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      JsonObject s = cluster.status(1);
      return s.getBoolean("alive", false) && s.getLong("files") == 6 && s.getLong("bytes") == expected;
    });
  }

  private boolean sameBytes(int server, String copy, Path f) {
    try {
      return Files.mismatch(dir.resolve("server-" + server).resolve("files").resolve(copy), f) == -1L;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  @Test
  void aCopyWhoseMetadataDisagreesWithTheCatalogIsJudgedByItsBytes() throws Exception {
    // (No healing while its server is down: a new copy elsewhere would make this one surplus.)
    cluster = new InProcessCluster(dir, 3, c -> TestSupport.healGrace(c, 600));
    Path f = TestSupport.randomFile(dir.resolve("client/rot.bin"), 30_000, 17);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "rot.bin", 2).await();
    int away = cluster.holders("rot.bin").get(0);
    Path copy = dir.resolve("server-" + away).resolve("files/rot.bin.v" + u.version());
    Path meta = copy.resolveSibling(copy.getFileName() + ".meta");
    Object inode = Files.getAttribute(copy, "unix:ino");
    // While its server is down, one digit of the checksum in the copy's metadata rots.
    cluster.killServer(away);
    String good = Files.readString(meta);
    String sha = u.sha256();
    Files.writeString(meta, good.replace(sha, sha.substring(0, 63) + (sha.charAt(63) == '0' ? '1' : '0')));
    cluster.startServer(away);
    // Its inventory disagrees with the catalog: the bytes are checked, found right, and the
    // metadata rewritten; the copy (the same file) stays, and stays counted.
    await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(meta).contains(sha));
    assertThat(Files.getAttribute(copy, "unix:ino")).isEqualTo(inode);
    assertThat(Files.mismatch(copy, f)).isEqualTo(-1L);
    assertThat(cluster.holders("rot.bin")).hasSize(2).contains(away);
  }

  @Test
  void aCopyWhoseMetadataIsTornOrGoneStaysCountedAndGetsItsMetadataBack() throws Exception {
    cluster = new InProcessCluster(dir, 2);
    Path f = TestSupport.randomFile(dir.resolve("client/torn.bin"), 30_000, 23);
    Path g = TestSupport.randomFile(dir.resolve("client/bare.bin"), 20_000, 29);
    // One copy each: the copy on its server is the file.
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "torn.bin", 1).await();
    BackupClient.Uploaded w = cluster.client.upload(g.toString(), "bare.bin", 1).await();
    int a = cluster.holders("torn.bin").get(0);
    int b = cluster.holders("bare.bin").get(0);
    Path torn = dir.resolve("server-" + a).resolve("files/torn.bin.v" + u.version());
    Path bare = dir.resolve("server-" + b).resolve("files/bare.bin.v" + w.version());
    Path tornMeta = torn.resolveSibling(torn.getFileName() + ".meta");
    Path bareMeta = bare.resolveSibling(bare.getFileName() + ".meta");
    // While their servers are down, one copy's metadata is torn (a crash of the disk under
    // it), the other's is lost; their bytes are intact.
    cluster.killServer(a);
    if (b != a) {
      cluster.killServer(b);
    }
    Files.writeString(tornMeta, "{\"v\": 1, \"name\": \"torn.b");
    Files.delete(bareMeta);
    cluster.startServer(a);
    if (b != a) {
      cluster.startServer(b);
    }
    // Their servers list them as copies without metadata; the manager has their bytes
    // checked (instead of taking them for lost after two inventories, which dropped the
    // only copy from the catalog), finds them right and has the metadata made again.
    await().atMost(Duration.ofSeconds(30)).until(() -> readable(bareMeta) && readable(tornMeta));
    assertThat(dev.backup.storage.ReplicaMeta.fromJson(new JsonObject(Files.readString(tornMeta))))
        .extracting("name", "version", "size", "sha256", "replicasWanted")
        .containsExactly("torn.bin", u.version(), 30_000L, u.sha256(), 1);
    assertThat(dev.backup.storage.ReplicaMeta.fromJson(new JsonObject(Files.readString(bareMeta))).sha256())
        .isEqualTo(w.sha256());
    // Counted all along, and whole: each restores from its one copy.
    assertThat(cluster.holders("torn.bin")).containsExactly(a);
    assertThat(cluster.holders("bare.bin")).containsExactly(b);
    for (String name : List.of("torn.bin", "bare.bin")) {
      JsonObject plan = cluster.client.request(new JsonObject().put("op", "restore").put("path", name)).await();
      Path target = dir.resolve("restored/" + name);
      cluster.client.restore(plan.getJsonArray("files").getJsonObject(0), target, false, n -> { }).await();
      assertThat(Files.mismatch(target, name.equals("torn.bin") ? f : g)).isEqualTo(-1L);
    }
  }

  @Test
  void aCopyWithNoReadableMetadataWhoseBytesAreDamagedIsMadeAgain() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    Path f = TestSupport.randomFile(dir.resolve("client/both.bin"), 30_000, 31);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "both.bin", 2).await();
    int away = cluster.holders("both.bin").get(0);
    Path copy = dir.resolve("server-" + away).resolve("files/both.bin.v" + u.version());
    cluster.killServer(away);
    Files.delete(copy.resolveSibling(copy.getFileName() + ".meta"));
    byte[] bytes = Files.readAllBytes(copy);
    bytes[100] ^= 1;
    Files.write(copy, bytes);
    cluster.startServer(away);
    // Its bytes are checked, found wrong: the copy goes (no metadata is made for it) and
    // the file gets its second copy back from the good one.
    await().atMost(Duration.ofSeconds(30)).until(() -> !cluster.holders("both.bin").contains(away)
        || Files.mismatch(copy, f) == -1L);
    await().atMost(Duration.ofSeconds(30)).until(() -> cluster.holders("both.bin").size() == 2
        && cluster.holders("both.bin").stream().allMatch(id -> sameBytes(id, "both.bin.v" + u.version(), f)));
    // The damaged bytes are gone from its server (or a heal put good ones there since).
    await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(copy) || Files.mismatch(copy, f) == -1L);
  }

  @Test
  void theOnlyCopyOfAFileFoundDamagedIsSetAsideForSalvageNotDeleted() throws Exception {
    cluster = new InProcessCluster(dir, 2);
    Path f = TestSupport.randomFile(dir.resolve("client/one.bin"), 40_000, 37);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "one.bin", 1).await();
    int on = cluster.holders("one.bin").get(0);
    Path server = dir.resolve("server-" + on);
    Path copy = server.resolve("files/one.bin.v" + u.version());
    byte[] bytes = Files.readAllBytes(copy);
    bytes[1234] ^= 0x40;
    Files.write(copy, bytes);
    JsonObject verify = cluster.client.request(new JsonObject().put("op", "verify")
        .put("paths", new JsonArray().add("one.bin"))).await();
    assertThat(verify.getInteger("problemCount")).isEqualTo(1);
    // No longer counted (no good copy is left), but what is left of it is kept aside on its
    // server, metadata and all, for a user to salvage; not deleted.
    Path aside = server.resolve("damaged/one.bin.v" + u.version());
    await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(aside) && !Files.exists(copy));
    assertThat(Files.readAllBytes(aside)).isEqualTo(bytes);
    assertThat(Files.readString(aside.resolveSibling(aside.getFileName() + ".meta"))).contains(u.sha256());
    assertThat(cluster.holders("one.bin")).isEmpty();
    // Its server says so in status; counted again when it starts, from its disk (where one
    // more was left while it was down: the count the manager had is not the one shown).
    await().atMost(Duration.ofSeconds(10)).until(() -> setAside(on) == 1);
    cluster.killServer(on);
    await().atMost(Duration.ofSeconds(30)).until(() -> !alive(on));
    Files.copy(aside, server.resolve("damaged/two.bin.v1"));
    cluster.startServer(on);
    await().atMost(Duration.ofSeconds(30)).until(() -> alive(on));
    await().atMost(Duration.ofSeconds(10)).until(() -> setAside(on) == 2);
    assertThat(setAside(on == 1 ? 2 : 1)).isZero();
    TestSupport.Run status = statusCommand();
    assertThat(status.code()).as(status.err()).isZero();
    assertThat(status.out()).contains("server " + on + " keeps 2 damaged copies set aside under damaged/ in its root")
        .doesNotContain("server " + (on == 1 ? 2 : 1) + " keeps");
    // A dead server's, as it last said.
    cluster.killServer(on);
    await().atMost(Duration.ofSeconds(30)).until(() -> "dead".equals(cluster.status(on).getString("state")));
    status = statusCommand();
    assertThat(status.out()).contains("server " + on + " kept 2 damaged copies set aside under damaged/ in its root "
        + "(each the last copy of its version) when last heard from");
  }

  /** Server {@code id}'s copies set aside as damaged, as status shows them (-1: none said). */
  private int setAside(int id) {
    return cluster.status(id).getInteger("damagedAside", -1);
  }

  private boolean alive(int id) {
    return cluster.status(id).getBoolean("alive", false);
  }

  /** The {@code status} command, as a user runs it against this cluster. */
  private TestSupport.Run statusCommand() throws java.io.IOException {
    Path conf = dir.resolve("client.properties");
    if (!Files.exists(conf)) {
      Files.writeString(conf, "");
    }
    return TestSupport.command(java.util.Map.of("BACKUP_CONF", conf.toString()), "--role=client", "--manager",
        "127.0.0.1:" + cluster.managerPort, "--root", dir.resolve("client").toString(), "status");
  }

  private static boolean readable(Path meta) {
    try {
      new JsonObject(Files.readString(meta));
      return true;
    } catch (java.io.IOException | RuntimeException e) {
      return false;
    }
  }

  @Test
  void aServerWhoseCopyIsBeingRemovedGetsNoNewCopyOfThatVersionUntilItIsGone() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    long started = System.nanoTime();
    // Deletions held back for a while, as a busy or slow server answers them.
    List<Integer> deleting = java.util.Collections.synchronizedList(new ArrayList<>());
    io.vertx.core.Promise<Void> release = io.vertx.core.Promise.promise();
    cluster.vertx.eventBus().addInboundInterceptor(dc -> {
      String a = dc.message().address();
      for (int id = 1; id <= 3; id++) {
        if (a.equals(Addresses.delete(id))) {
          deleting.add(id);
          release.future().onComplete(x -> dc.next());
          return;
        }
      }
      dc.next();
    });
    Path f = TestSupport.randomFile(dir.resolve("client/three.bin"), 40_000, 13);
    cluster.client.upload(f.toString(), "three.bin", 3).await();
    // (Once healing may start, its grace after the manager first heard from the servers.)
    await().atMost(Duration.ofSeconds(20))
        .until(() -> System.nanoTime() - started > (TestSupport.HEAL_GRACE_SECONDS + 1) * 1_000_000_000L);
    // Fewer copies: one holder is taken off the catalog, its copy's removal on its way.
    io.vertx.core.Future<JsonObject> lowered = cluster.client.request(new JsonObject().put("op", "replicas")
        .put("path", "three.bin").put("replicas", 2));
    await().atMost(Duration.ofSeconds(10)).until(() -> deleting.size() == 1);
    int leaving = deleting.get(0);
    assertThat(cluster.holders("three.bin")).hasSize(2).doesNotContain(leaving);
    // Another holder dies: the leaving server, the only one without a copy, must not get
    // the new one while its removal is under way (it would remove the new copy with the old).
    int dying = cluster.holders("three.bin").get(0);
    cluster.killServer(dying);
    Thread.sleep(2_000);
    assertThat(cluster.holders("three.bin")).doesNotContain(leaving);
    release.complete();
    lowered.await();
    // Then it may: the file is back to two copies, each listed one there with its bytes.
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      List<Integer> h = cluster.holders("three.bin");
      return h.size() == 2 && !h.contains(dying) && h.stream().allMatch(id -> sameBytes(id, "three.bin.v1", f));
    });
  }

  @Test
  void aCopyReportedLateIsRefusedOnceTheFileHasItsCopiesAndGoesWhenItsServerReturns() throws Exception {
    cluster = new InProcessCluster(dir, 3);
    Path f = TestSupport.randomFile(dir.resolve("client/late.bin"), 50_000, 7);
    BackupClient.Uploaded u = cluster.client.upload(f.toString(), "late.bin", 2).await();
    List<Integer> first = cluster.holders("late.bin");
    int away = first.get(0);
    Path awayCopy = dir.resolve("server-" + away).resolve("files/late.bin.v" + u.version());
    assertThat(awayCopy).exists();

    cluster.killServer(away);
    // Healed onto the third server (after the manager's start-up grace).
    await().atMost(Duration.ofSeconds(30)).until(() -> cluster.holders("late.bin").size() == 2
        && !cluster.holders("late.bin").contains(away));
    // The report of a copy onto the server that went away, whose answer had been lost,
    // arrives late: the file has its two copies, so the manager refuses it (the server
    // then removes that copy) and the catalog keeps listing the two real ones.
    assertThatThrownBy(() -> cluster.vertx.eventBus().request(Addresses.COMMITTED, new JsonObject().put("copy", true)
        .put("name", "late.bin").put("version", u.version()).put("servers", new JsonArray().add(away))).await())
        .hasMessageContaining("already has its 2 copies");
    assertThat(cluster.holders("late.bin")).hasSize(2).doesNotContain(away);

    // When it comes back, its copy (which the catalog does not list) goes.
    cluster.startServer(away);
    await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(awayCopy));
    assertThat(cluster.holders("late.bin")).hasSize(2).doesNotContain(away);
    for (int id : cluster.holders("late.bin")) {
      assertThat(Files.mismatch(dir.resolve("server-" + id).resolve("files/late.bin.v" + u.version()), f))
          .isEqualTo(-1L);
    }
  }
}
