package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.cluster.Ticket;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A manager and four servers as verticles of one (non-clustered) Vert.x: the event bus
 * is local, the TCP paths are real.
 */
@ExtendWith(VertxExtension.class)
class InProcessClusterTest {
  static InProcessCluster cluster;
  static Vertx vertx;
  static int managerPort;
  static int[] serverPorts;
  static BackupClient client;

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() {
    cluster = new InProcessCluster(dir, 4);
    vertx = cluster.vertx;
    managerPort = cluster.managerPort;
    serverPorts = cluster.serverPorts;
    client = cluster.client;
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  static long aliveCount() {
    return cluster.alive();
  }

  static List<Path> copiesOf(String name, long version) {
    List<Path> out = new ArrayList<>();
    for (int id = 1; id <= 4; id++) {
      Path p = dir.resolve("server-" + id).resolve("files").resolve(name + ".v" + version);
      if (Files.exists(p)) {
        out.add(p);
      }
    }
    return out;
  }

  static void assertNoTempFiles() throws Exception {
    for (int id = 1; id <= 4; id++) {
      assertThat(TestSupport.filesUnder(dir.resolve("server-" + id).resolve(".bk-tmp"))).isEmpty();
    }
  }

  /**
   * The primary's "copy stored" report finds no manager (as when the manager has just
   * died): the primary tries again, then gives up not knowing whether it was recorded. The
   * client hears that at once, with the reason, not when the connection times out idle;
   * no temporary file is left.
   */
  @Test
  void aCommitTheManagerCannotConfirmFailsPromptlyWithItsReason() throws Exception {
    Path f = TestSupport.randomFile(dir.resolve("client/unconfirmed.bin"), 3_000_000, 77);
    io.vertx.core.Handler<io.vertx.core.eventbus.DeliveryContext<Object>> noManager = ctx -> {
      if (dev.backup.cluster.Addresses.COMMITTED.equals(ctx.message().address())) {
        ctx.message().reply(new io.vertx.core.eventbus.ReplyException(io.vertx.core.eventbus.ReplyFailure.NO_HANDLERS,
            "no handlers (test)"));
      } else {
        ctx.next();
      }
    };
    vertx.eventBus().addOutboundInterceptor(noManager);
    long start = System.nanoTime();
    try {
      assertThatThrownBy(() -> client.upload(f.toString(), "unconfirmed.bin", 2).await())
          .hasMessageContaining("did not confirm unconfirmed.bin");
    } finally {
      vertx.eventBus().removeOutboundInterceptor(noManager);
    }
    long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
    assertThat(seconds).as("answered before the %d s idle timeout", cluster.idleTimeoutSeconds)
        .isLessThan(cluster.idleTimeoutSeconds / 2);
    await().atMost(Duration.ofSeconds(10)).untilAsserted(InProcessClusterTest::assertNoTempFiles);
  }

  @Test
  void thirtyTwoConcurrentBackupsEachLandAsTwoExactCopies() throws Exception {
    List<Future<BackupClient.Uploaded>> all = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      Path f = TestSupport.randomFile(dir.resolve("client/many/f" + i + ".bin"), 100_000 + i * 7919L, i);
      files.add(f);
      all.add(client.upload(f.toString(), "many/f" + i + ".bin", 2));
    }
    Future.all(all).await();
    for (int i = 0; i < 32; i++) {
      BackupClient.Uploaded u = all.get(i).result();
      assertThat(u.copies()).isEqualTo(2);
      List<Path> copies = copiesOf("many/f" + i + ".bin", u.version());
      assertThat(copies).hasSize(2);
      for (Path c : copies) {
        assertThat(Files.mismatch(c, files.get(i))).isEqualTo(-1L);
      }
    }
    assertNoTempFiles();
  }

  @Test
  void manySmallFilesInFlightArePlacedInBatchesAndEachLandsAsTwoExactCopies() throws Exception {
    long[] before = client.placeCounts();
    List<Future<BackupClient.Uploaded>> all = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    int n = 150; // (more than one batch holds)
    for (int i = 0; i < n; i++) {
      files.add(TestSupport.randomFile(dir.resolve("client/small/f" + i), 4096 + i, 1000 + i));
    }
    // All in flight at once, as a backup of a folder puts them (made between two uploads,
    // the files came slower than the manager answered on a busy disk: a batch per file).
    for (int i = 0; i < n; i++) {
      all.add(client.upload(files.get(i).toString(), "small/f" + i, 2));
    }
    Future.all(all).await();
    for (int i = 0; i < n; i++) {
      BackupClient.Uploaded u = all.get(i).result();
      assertThat(u.copies()).isEqualTo(2);
      List<Path> copies = copiesOf("small/f" + i, u.version());
      assertThat(copies).hasSize(2);
      for (Path c : copies) {
        assertThat(Files.mismatch(c, files.get(i))).isEqualTo(-1L);
      }
    }
    long[] after = client.placeCounts();
    assertThat(after[1] - before[1]).isEqualTo(n);
    assertThat(after[0] - before[0]).as("place requests for %d files", n).isLessThanOrEqualTo(n / 2);
    assertNoTempFiles();
  }

  @Test
  void aFileRefusedInAPlaceBatchFailsAloneAndTheOthersArePlaced() {
    JsonObject answer = client.request(new JsonObject().put("op", "place").put("batch", new io.vertx.core.json.JsonArray()
        .add(new JsonObject().put("name", "batch/ok1").put("size", 10L).put("replicas", 2))
        .add(new JsonObject().put("name", "../escape").put("size", 10L).put("replicas", 2))
        .add(new JsonObject().put("name", "batch/ok2").put("size", 10L).put("replicas", 2))
        .add(new JsonObject().put("name", "batch/too-many").put("size", 10L).put("replicas", 9))
        .add("not an object"))).await();
    io.vertx.core.json.JsonArray answers = answer.getJsonArray("answers");
    assertThat(answers).hasSize(5);
    for (int i : new int[] {0, 2}) {
      JsonObject placed = answers.getJsonObject(i);
      assertThat(placed.containsKey("error")).isFalse();
      assertThat(placed.getJsonObject("ticket").getString("name")).isEqualTo(i == 0 ? "batch/ok1" : "batch/ok2");
      assertThat(placed.getJsonObject("primary").getInteger("port")).isPositive();
    }
    assertThat(answers.getJsonObject(1).getJsonObject("error").getInteger("code")).isEqualTo(ErrorCode.USAGE.code());
    assertThat(answers.getJsonObject(3).getJsonObject("error").getInteger("code"))
        .isEqualTo(ErrorCode.NOT_ENOUGH_SERVERS.code());
    assertThat(answers.getJsonObject(4).getJsonObject("error").getInteger("code")).isEqualTo(ErrorCode.PROTOCOL.code());
    // A batch beyond the limit is refused whole.
    io.vertx.core.json.JsonArray tooMany = new io.vertx.core.json.JsonArray();
    for (int i = 0; i < 65; i++) {
      tooMany.add(new JsonObject().put("name", "batch/x" + i).put("size", 1L).put("replicas", 1));
    }
    assertThatThrownBy(() -> client.request(new JsonObject().put("op", "place").put("batch", tooMany)).await())
        .hasMessageContaining("1 to 64");
  }

  /**
   * A folder whose list, restore plan or latest versions would not fit in one frame (a
   * body is at most 1 MiB) comes a page (or batch) at a time: nothing is left out.
   */
  @Test
  void aFolderTooLargeForOneAnswerIsListedAndPlannedInPages() throws Exception {
    // Names of 2 KB in UTF-8 (10 parts of 60 three-byte characters): 500 of them alone are
    // more than a frame, and a page counted in characters rather than bytes would overflow.
    String longPart = String.join("/", java.util.Collections.nCopies(10, "名".repeat(60)));
    List<String> names = new ArrayList<>();
    List<Future<BackupClient.Uploaded>> ups = new ArrayList<>();
    for (int i = 0; i < 700; i++) {
      String name = "pages/" + longPart + "/" + i;
      names.add(name);
      Path f = dir.resolve("client").resolve(name);
      Files.createDirectories(f.getParent());
      Files.writeString(f, "file " + i);
      ups.add(client.upload(f.toString(), name, 2));
      if (ups.size() == 32) {
        Future.all(ups).await();
        ups.clear();
      }
    }
    Future.all(ups).await();
    assertThat(client.stat(names).await().fieldNames()).containsExactlyInAnyOrderElementsOf(names);
    assertThat(client.request(new JsonObject().put("op", "list").put("paged", true)).await().getString("next"))
        .as("more than one page").isNotNull();
    assertThat(client.list().await().getJsonArray("files").stream()
        .map(o -> ((JsonObject) o).getString("name")).filter(n -> n.startsWith("pages/")).toList())
        .containsExactlyElementsOf(names.stream().sorted().toList());
    List<String> planned = new ArrayList<>();
    String after = null;
    int pages = 0;
    do {
      JsonObject req = new JsonObject().put("op", "restore").put("path", "pages").put("paged", true);
      JsonObject plan = client.request(after == null ? req : req.put("after", after)).await();
      plan.getJsonArray("files").forEach(o -> planned.add(((JsonObject) o).getString("name")));
      after = plan.getString("next");
      pages++;
    } while (after != null);
    assertThat(pages).isGreaterThan(1);
    assertThat(planned).containsExactlyElementsOf(names.stream().sorted().toList());

    // One copy each from now on: the answer names the first changes and counts them all.
    JsonObject changed = client.request(new JsonObject().put("op", "replicas").put("path", "pages").put("replicas", 1))
        .await();
    assertThat(changed.getInteger("changeCount")).isEqualTo(names.size());
    assertThat(changed.getJsonArray("changes")).hasSize(200);
    for (String n : names) {
      assertThat(copiesOf(n, 1)).hasSize(1);
    }

    // Every copy of them lost: verify names the first problems and counts them all.
    for (String n : names) {
      for (Path c : copiesOf(n, 1)) {
        Files.delete(c);
      }
    }
    JsonObject verify = client.request(new JsonObject().put("op", "verify")
        .put("paths", new io.vertx.core.json.JsonArray().add("pages"))).await();
    assertThat(verify.getInteger("problemCount")).isEqualTo(names.size());
    assertThat(verify.getJsonArray("problems")).hasSize(200);
    JsonObject deleted = client.request(new JsonObject().put("op", "delete")
        .put("paths", new io.vertx.core.json.JsonArray().add("pages"))).await();
    assertThat(deleted.getInteger("deletedCount")).isEqualTo(names.size());
    assertThat(deleted.getJsonArray("deleted")).hasSize(200);
    assertThat(client.stat(names).await().fieldNames()).isEmpty();
  }

  /**
   * A file backed up and left alone since is known unchanged from the client's record of its
   * checksum, without being read; the same file rewritten with the same size (and its old
   * modification time) is read and backed up again.
   */
  @Test
  void aFileLeftAloneSinceItsBackupIsKnownUnchangedWithoutBeingRead() throws Exception {
    Path small = TestSupport.randomFile(dir.resolve("client/rec/small.bin"), 5000, 901);
    Path large = TestSupport.randomFile(dir.resolve("client/rec/large.bin"), 3_000_000, 902);
    // Records are kept only of files that had been left alone for a while before their read
    // (a second here, a minute by default).
    Thread.sleep(1200);
    List<String> names = List.of("rec/small.bin", "rec/large.bin");
    List<Path> paths = List.of(small, large);
    dev.backup.client.LocalHashes records = dev.backup.client.LocalHashes.load(dir.resolve("cache"),
        dir.resolve("client"), 1);
    client.useLocalHashes(records);
    try {
      for (int i = 0; i < 2; i++) {
        assertThat(client.upload(paths.get(i).toString(), names.get(i), 2).await().version()).isEqualTo(1);
      }
      records.save();
      // The next run reads the records back.
      client.useLocalHashes(dev.backup.client.LocalHashes.load(dir.resolve("cache"), dir.resolve("client"), 1));
      JsonObject latest = client.stat(names).await();
      for (int i = 0; i < 2; i++) {
        BackupClient.Uploaded u = client.upload(paths.get(i).toString(), names.get(i), 2,
            latest.getJsonObject(names.get(i))).await();
        assertThat(u.unchanged()).isTrue();
        assertThat(u.unread()).isTrue();
        assertThat(u.version()).isEqualTo(1);
      }

      java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(large);
      Thread.sleep(50); // past the file system clock's tick
      TestSupport.randomFile(large, 3_000_000, 903);
      Files.setLastModifiedTime(large, mtime);
      BackupClient.Uploaded changed = client.upload(large.toString(), "rec/large.bin", 2,
          latest.getJsonObject("rec/large.bin")).await();
      assertThat(changed.unchanged()).isFalse();
      assertThat(changed.unread()).isFalse();
      assertThat(changed.version()).isEqualTo(2);
      assertThat(copiesOf("rec/large.bin", 2)).hasSize(2).allSatisfy(c -> assertThat(Files.mismatch(c, large))
          .isEqualTo(-1L));
    } finally {
      client.useLocalHashes(dev.backup.client.LocalHashes.none());
    }
  }

  @Test
  void manySmallFilesOneAfterAnotherShareOneConnectionPerServer() throws Exception {
    long[] before = client.connectionCounts();
    List<Path> files = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      Path f = TestSupport.randomFile(dir.resolve("client/seq/f" + i + ".bin"), 4096 + i, 500 + i);
      files.add(f);
      BackupClient.Uploaded u = client.upload(f.toString(), "seq/f" + i + ".bin", 2).await();
      assertThat(copiesOf("seq/f" + i + ".bin", u.version())).hasSize(2)
          .allSatisfy(c -> assertThat(Files.mismatch(c, f)).isEqualTo(-1L));
    }
    JsonObject plan = client.request(new JsonObject().put("op", "restore").put("path", "seq")).await();
    for (Object o : plan.getJsonArray("files")) {
      JsonObject file = (JsonObject) o;
      String name = file.getString("name");
      Path target = dir.resolve("restored-seq").resolve(name);
      client.restore(file, target, false, n -> { }).await();
      assertThat(Files.mismatch(target, dir.resolve("client").resolve(name))).isEqualTo(-1L);
    }
    long[] after = client.connectionCounts();
    // 24 uploads and 24 restores, one at a time: at most one connection per server opened.
    assertThat(after[0] - before[0]).isLessThanOrEqualTo(4);
    assertThat(after[1] - before[1]).isGreaterThanOrEqualTo(44);
    assertNoTempFiles();
  }

  @Test
  void aFileThatAppearsWhereARestoreIsGoingIsNotReplacedWithoutForce() throws Exception {
    // Nothing at the target when the restore begins; another program writes a file there
    // while the bytes come. Without --force it stays as that program left it.
    Path f = TestSupport.randomFile(dir.resolve("client/appears.bin"), 3_000_000, 31);
    client.upload(f.toString(), "appears.bin", 2).await();
    JsonObject file = client.request(new JsonObject().put("op", "restore").put("path", "appears.bin")).await()
        .getJsonArray("files").getJsonObject(0);
    Path target = dir.resolve("restored-appears/appears.bin");
    java.util.concurrent.atomic.AtomicBoolean written = new java.util.concurrent.atomic.AtomicBoolean();
    Future<BackupClient.Restored> restore = client.restore(file, target, false, n -> { }, bytes -> {
      if (bytes > 0 && written.compareAndSet(false, true)) {
        try {
          Files.writeString(target, "someone else's");
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    });
    assertThatThrownBy(restore::await).isInstanceOfSatisfying(BackupException.class, e -> {
      assertThat(e.code()).isEqualTo(ErrorCode.EXISTS);
      assertThat(e.getMessage()).contains("appeared during the restore");
    });
    assertThat(written).isTrue();
    assertThat(Files.readString(target)).isEqualTo("someone else's");
    assertThat(TestSupport.filesUnder(target.getParent())).as("no temporary file left").hasSize(1);
    // With --force it is replaced.
    client.restore(file, target, true, n -> { }).await();
    assertThat(Files.mismatch(target, f)).isEqualTo(-1L);
  }

  @Test
  void garbageOnAServerPortDoesNotDisturbABackupBesideIt() throws Exception {
    Path f = TestSupport.randomFile(dir.resolve("client/beside.bin"), 40L << 20, 99);
    Future<BackupClient.Uploaded> up = client.upload(f.toString(), "beside.bin", 4);
    List<CompletableFuture<Integer>> garbage = new ArrayList<>();
    for (int id = 1; id <= 4; id++) {
      int port = serverPorts[id];
      garbage.add(CompletableFuture.supplyAsync(() -> sendGarbage(port)));
    }
    // Each garbage connection is answered (an ERROR frame) and closed by the server.
    for (CompletableFuture<Integer> g : garbage) {
      assertThat(g.get()).isEqualTo(-1);
    }
    BackupClient.Uploaded u = up.await();
    assertThat(copiesOf("beside.bin", u.version())).hasSize(4)
        .allSatisfy(c -> assertThat(Files.mismatch(c, f)).isEqualTo(-1L));
    assertNoTempFiles();
  }

  private static int sendGarbage(int port) {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(15_000); // (the server closes after a short linger, on a busy JVM)
      OutputStream out = s.getOutputStream();
      out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
      out.flush();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      // Read until the server closes the connection (a read timeout fails the test).
      while (in.read(buf) >= 0) {
        continue;
      }
      return -1;
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  @Test
  void aForgedTicketIsRefusedAndStoresNothing() throws Exception {
    Ticket forged = Ticket.sign("not-the-secret", "forged-1", "evil.txt", 1, 5,
        List.of(new Ticket.Hop(1, "127.0.0.1", serverPorts[1])), System.currentTimeMillis() + 60_000);
    Frame answer = putRaw(serverPorts[1], forged, "hello");
    assertThat(answer.op()).isEqualTo(Op.ERROR);
    assertThat(answer.toException().code()).isEqualTo(ErrorCode.DENIED);
    assertThat(copiesOf("evil.txt", 1)).isEmpty();
  }

  @Test
  void aValidTicketTheManagerDidNotAnnounceIsRefused() throws Exception {
    Ticket t = Ticket.sign(TestSupport.SECRET, "unannounced-1", "sneaky.txt", 1, 5,
        List.of(new Ticket.Hop(2, "127.0.0.1", serverPorts[2])), System.currentTimeMillis() + 60_000);
    Frame answer = putRaw(serverPorts[2], t, "hello");
    assertThat(answer.toException().getMessage()).contains("not announced");
    assertThat(copiesOf("sneaky.txt", 1)).isEmpty();
  }

  /** Sends a PUT with the given ticket and body as raw bytes; returns the server's answer frame. */
  private static Frame putRaw(int port, Ticket t, String body) throws Exception {
    return exchange(port, new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", 0)).encode()
        .appendString(body));
  }

  /** Sends bytes to a port and returns the first frame answered. */
  private static Frame exchange(int port, Buffer bytes) throws Exception {
    NetClient nc = vertx.createNetClient();
    try {
      NetSocket sock = nc.connect(port, "127.0.0.1").await();
      CompletableFuture<Frame> answer = new CompletableFuture<>();
      FrameDecoder d = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame f) {
          answer.complete(f);
        }

        @Override
        public void onError(BackupException error) {
          answer.completeExceptionally(error);
        }
      });
      sock.handler(d::feed);
      sock.write(bytes).await();
      return answer.get(10, java.util.concurrent.TimeUnit.SECONDS);
    } finally {
      nc.close().await();
    }
  }

  @Test
  void aSenderThatStopsHalfWayLeavesNoPartialFile() throws Exception {
    JsonObject placed = client.request(new JsonObject().put("op", "place").put("name", "half.bin")
        .put("size", 1_000_000).put("replicas", 3)).await();
    Ticket t = Ticket.fromJson(placed.getJsonObject("ticket"));
    int port = placed.getJsonObject("primary").getInteger("port");
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.getOutputStream().write(new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", 0)
          .put("replicas", 3)).encode().getBytes());
      s.getOutputStream().write(new byte[300_000]);
      s.getOutputStream().flush();
      // Wait until the chain has started writing, then vanish.
      await().atMost(Duration.ofSeconds(5)).until(() -> tempFileCount() >= 3);
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> tempFileCount() == 0);
    assertThat(copiesOf("half.bin", t.version())).isEmpty();
    JsonObject list = client.request(new JsonObject().put("op", "list")).await();
    assertThat(list.encode()).doesNotContain("half.bin");
  }

  static long tempFileCount() throws Exception {
    long n = 0;
    for (int id = 1; id <= 4; id++) {
      n += TestSupport.filesUnder(dir.resolve("server-" + id).resolve(".bk-tmp")).size();
    }
    return n;
  }

  @Test
  void aWrongChecksumFailsTheBackupEverywhere() throws Exception {
    JsonObject placed = client.request(new JsonObject().put("op", "place").put("name", "badsum.bin")
        .put("size", 5).put("replicas", 2)).await();
    Ticket t = Ticket.fromJson(placed.getJsonObject("ticket"));
    int port = placed.getJsonObject("primary").getInteger("port");
    Frame f = exchange(port, new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", 0)).encode()
        .appendString("hello")
        .appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", "00".repeat(32))).encode()));
    assertThat(f.toException().code()).isEqualTo(ErrorCode.INTEGRITY);
    await().atMost(Duration.ofSeconds(5)).until(() -> tempFileCount() == 0);
    assertThat(copiesOf("badsum.bin", t.version())).isEmpty();
  }

  @Test
  void moreCopiesThanLiveServersIsRefused() throws Exception {
    Path f = TestSupport.randomFile(dir.resolve("client/five.bin"), 10, 5);
    assertThatThrownBy(() -> client.upload(f.toString(), "five.bin", 5).await())
        .isInstanceOfSatisfying(BackupException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.NOT_ENOUGH_SERVERS);
          assertThat(e.getMessage()).contains("only 4 servers are alive");
        });
    assertThatThrownBy(() -> client.upload(f.toString(), "../five.bin", 1).await())
        .isInstanceOfSatisfying(BackupException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE));
  }

  @Test
  void garbageOnTheManagerPortIsRefusedAndTheManagerKeepsServing() throws Exception {
    assertThat(sendGarbage(managerPort)).isEqualTo(-1);
    try (Socket s = new Socket("127.0.0.1", managerPort)) {
      Buffer half = new Frame(Op.REQUEST, 1, new JsonObject().put("op", "status")).encode();
      s.getOutputStream().write(half.getBytes(0, 10));
    }
    assertThat(aliveCount()).isEqualTo(4);
  }

  @Test
  void aRestoreGoesOnFromAnotherReplicaWhenOneDiesMidWay() throws Exception {
    Path f = TestSupport.randomFile(dir.resolve("client/resume.bin"), 5_000_000, 77);
    client.upload(f.toString(), "resume.bin", 2).await();
    JsonObject plan = client.request(new JsonObject().put("op", "restore").put("path", "resume.bin")).await();
    JsonObject file = plan.getJsonArray("files").getJsonObject(0);
    // A fake first source that sends 1,234,567 of the file's bytes, then hangs up.
    byte[] bytes = Files.readAllBytes(f);
    io.vertx.core.net.NetServer fake = vertx.createNetServer().connectHandler(sock -> {
      FrameDecoder d = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame fr) {
          sock.write(new Frame(Op.RESPONSE, fr.requestId(), new JsonObject().put("size", (long) bytes.length)
              .put("sha256", file.getString("sha256"))).encode());
          sock.write(Buffer.buffer(bytes).getBuffer(0, 1_234_567)).onComplete(x -> sock.close());
        }

        @Override
        public void onError(BackupException error) {
          sock.close();
        }
      });
      sock.handler(d::feed);
    }).listen(0, "127.0.0.1").await();
    try {
      io.vertx.core.json.JsonArray sources = new io.vertx.core.json.JsonArray()
          .add(new JsonObject().put("id", 99).put("host", "127.0.0.1").put("port", fake.actualPort())
              .put("ticket", new JsonObject()))
          .addAll(file.getJsonArray("sources"));
      List<String> notes = new java.util.concurrent.CopyOnWriteArrayList<>();
      Path target = dir.resolve("client/resumed.bin");
      client.restore(file.copy().put("sources", sources), target, false, notes::add).await();
      assertThat(Files.mismatch(target, f)).isEqualTo(-1L);
      // The client goes on from where it got to: at most what the dying source sent (bytes
      // a paused socket still held when the connection closed are not counted).
      assertThat(notes).singleElement().satisfies(n -> {
        assertThat(n).contains("server 99 stopped sending").contains("going on from server");
        long at = Long.parseLong(n.replaceAll(".*at byte (\\d+).*", "$1"));
        assertThat(at).isBetween(1L, 1_234_567L);
      });
    } finally {
      fake.close().await();
    }
  }

  @Test
  void aRemovalNamingAnotherCopyThanTheOneHeldLeavesItAlone() throws Exception {
    Path f = TestSupport.randomFile(dir.resolve("client/kept.bin"), 5000, 77);
    BackupClient.Uploaded u = client.upload(f.toString(), "kept.bin", 1).await();
    Path copy = copiesOf("kept.bin", u.version()).get(0);
    int holder = Integer.parseInt(copy.getParent().getParent().getFileName().toString().substring("server-".length()));
    JsonObject meta = new JsonObject(Files.readString(copy.resolveSibling(copy.getFileName() + ".meta")));
    long created = meta.getLong("created");
    // Reconciliation listed an older copy (another time of writing) and a heal has put a new
    // one here since: the removal is not for this copy.
    JsonObject stale = new JsonObject().put("name", "kept.bin").put("version", u.version())
        .put("sha256", u.sha256()).put("created", created - 1);
    JsonObject reply = vertx.eventBus().<JsonObject>request(dev.backup.cluster.Addresses.delete(holder),
        new JsonObject().put("items", new io.vertx.core.json.JsonArray().add(stale))).await().body();
    assertThat(reply.getInteger("deleted")).isZero();
    assertThat(copiesOf("kept.bin", u.version())).containsExactly(copy);
    // The copy it did list is removed.
    JsonObject listed = stale.copy().put("created", created);
    reply = vertx.eventBus().<JsonObject>request(dev.backup.cluster.Addresses.delete(holder),
        new JsonObject().put("items", new io.vertx.core.json.JsonArray().add(listed))).await().body();
    assertThat(reply.getInteger("deleted")).isEqualTo(1);
    assertThat(copiesOf("kept.bin", u.version())).isEmpty();
  }
}
