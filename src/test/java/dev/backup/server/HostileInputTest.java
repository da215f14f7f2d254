package dev.backup.server;

import static dev.backup.HostileClients.assertNoTempFiles;
import static dev.backup.HostileClients.backupAndRestore;
import static dev.backup.HostileClients.connect;
import static dev.backup.HostileClients.exchange;
import static dev.backup.HostileClients.header;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.backup.HostileClients;
import dev.backup.HostileClients.Raw;
import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.cluster.Addresses;
import dev.backup.cluster.Ticket;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.Op;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attack-minded input on the manager's and the servers' ports: forged, expired, replayed
 * and misused tickets, hostile names, absurd lengths, peers that dribble or just sit
 * there. Each case gets one clear ERROR frame (or is dropped), leaves nothing in the
 * servers' temporary folders and touches nothing stored; after each, a real backup and
 * restore still work byte-exact. The idle timeout is 3 s here so that stalled peers are
 * dealt with in seconds.
 */
class HostileInputTest {
  static final int IDLE = 3;
  static InProcessCluster cluster;
  static NetClient nc;
  static int managerPort;
  static int[] serverPorts;
  static final AtomicInteger seq = new AtomicInteger();

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() throws Exception {
    cluster = new InProcessCluster(dir, 4, IDLE);
    nc = HostileClients.netClient(cluster.vertx);
    managerPort = cluster.managerPort;
    serverPorts = cluster.serverPorts;
    // Something stored before any attack, checked byte-exact after each.
    backupAndRestore(cluster, "kept/precious.bin", 300_000, 1, 4);
  }

  @AfterAll
  static void stop() {
    cluster.close();
  }

  /** After every case: nothing half-written anywhere, what was stored is intact, and the cluster still works. */
  @AfterEach
  void clusterStillServes() throws Exception {
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertNoTempFiles(dir, 4));
    Path original = dir.resolve("client/kept/precious.bin");
    for (int id = 1; id <= 4; id++) {
      assertThat(Files.mismatch(dir.resolve("server-" + id + "/files/kept/precious.bin.v1"), original)).isEqualTo(-1L);
    }
    int n = seq.incrementAndGet();
    backupAndRestore(cluster, "after/" + n + ".bin", 100_000 + n, n, 2);
    assertThat(cluster.alive()).isEqualTo(4);
  }

  static Buffer put(Ticket t, int hop) {
    return new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", hop)
        .put("replicas", t.chain().size())).encode();
  }

  /** A PUT as the previous server of the chain sends it (with the relay proof only servers can make). */
  static Buffer relayed(Ticket t, int hop) {
    return new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", hop)
        .put("replicas", t.chain().size()).put("relay", t.relayProof(TestSupport.SECRET, hop))).encode();
  }

  static Buffer get(Ticket t, long offset) {
    return new Frame(Op.GET, 1, new JsonObject().put("ticket", t.toJson()).put("offset", offset)).encode();
  }

  static Ticket.Hop hop(int id) {
    return new Ticket.Hop(id, "127.0.0.1", serverPorts[id]);
  }

  static long inAMinute() {
    return System.currentTimeMillis() + 60_000;
  }

  static void assertError(Frame f, ErrorCode code, String text) {
    assertThat(f.op()).as("answer %s", f.body()).isEqualTo(Op.ERROR);
    assertThat(f.toException().code()).as("code of '%s'", f.toException().getMessage()).isEqualTo(code);
    assertThat(f.toException().getMessage()).contains(text);
  }

  /** Asks the manager to place a file; returns its answer (ticket, primary). */
  static JsonObject place(String name, long size, int replicas) {
    return cluster.client.request(new JsonObject().put("op", "place").put("name", name).put("size", size)
        .put("replicas", replicas)).await();
  }

  // ---- tickets ----

  @Test
  void aForgedTicketIsDenied() throws Exception {
    Ticket forged = Ticket.sign("guessed-secret", "forged-1", "evil.txt", 1, 5, List.of(hop(1)), inAMinute());
    assertError(exchange(nc, serverPorts[1], put(forged, 0).appendString("hello")), ErrorCode.DENIED,
        "signature");
    assertError(exchange(nc, serverPorts[1], get(forged, 0)), ErrorCode.DENIED, "signature");
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(r -> r.contains("evil"));
  }

  @Test
  void aRealTicketWithAnyFieldChangedIsDenied() throws Exception {
    Ticket t = Ticket.fromJson(place("tampered.bin", 10, 2).getJsonObject("ticket"));
    List<JsonObject> tampered = List.of(
        t.toJson().put("name", "other.bin"),
        t.toJson().put("size", 11),
        t.toJson().put("version", t.version() + 1),
        t.toJson().put("expires", t.expires() + 3_600_000),
        t.toJson().put("access", Ticket.GET),
        t.toJson().put("transferId", "someone-elses"));
    for (JsonObject j : tampered) {
      Frame f = exchange(nc, serverPorts[t.chain().get(0).id()],
          new Frame(Op.PUT, 1, new JsonObject().put("ticket", j).put("hop", 0)).encode().appendString("0123456789"));
      assertError(f, ErrorCode.DENIED, "signature");
    }
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(r -> r.contains("tampered") || r.contains("other.bin"));
  }

  @Test
  void anExpiredTicketIsDeniedForWritingAndForReading() throws Exception {
    Ticket t = Ticket.sign(TestSupport.SECRET, "expired-1", "late.txt", 1, 5, List.of(hop(2)),
        System.currentTimeMillis() - 1);
    assertError(exchange(nc, serverPorts[2], put(t, 0).appendString("hello")), ErrorCode.DENIED, "expired");
    Ticket read = Ticket.sign(TestSupport.SECRET, "expired-2", Ticket.GET, "kept/precious.bin", 1, 300_000,
        List.of(hop(2)), System.currentTimeMillis() - 1);
    assertError(exchange(nc, serverPorts[2], get(read, 0)), ErrorCode.DENIED, "expired");
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(r -> r.contains("late.txt"));
  }

  @Test
  void aUsedTicketCannotBeReplayedAtAnyHopOfItsChain() throws Exception {
    Path f = TestSupport.randomFile(dir.resolve("client/replayed.bin"), 2000, 7);
    // A real backup; the attacker kept the ticket the manager gave for it.
    JsonObject placed = place("replayed.bin", 2000, 2);
    Ticket t = Ticket.fromJson(placed.getJsonObject("ticket"));
    byte[] bytes = Files.readAllBytes(f);
    String sha = TestSupport.sha256(f);
    Frame done = exchange(nc, serverPorts[t.chain().get(0).id()], put(t, 0).appendBytes(bytes)
        .appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", sha)).encode()));
    assertThat(done.op()).as("%s", done.body()).isEqualTo(Op.RESPONSE);
    // Replaying it with other bytes of the same size, at the primary and at the second server.
    byte[] evil = new byte[2000];
    java.util.Arrays.fill(evil, (byte) 'X');
    String evilSha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(evil));
    for (int h = 0; h < 2; h++) {
      Frame f2 = exchange(nc, serverPorts[t.chain().get(h).id()], put(t, h).appendBytes(evil)
          .appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", evilSha)).encode()));
      assertThat(f2.op()).as("replay at hop %d: %s", h, f2.body()).isEqualTo(Op.ERROR);
      assertThat(f2.toException().code()).isEqualTo(ErrorCode.DENIED);
    }
    for (Ticket.Hop h : t.chain()) {
      Path copy = dir.resolve("server-" + h.id() + "/files/replayed.bin.v" + t.version());
      assertThat(Files.mismatch(copy, f)).as("copy on server %d", h.id()).isEqualTo(-1L);
    }
    // A fresh ticket: skipping the primary and sending straight to the second server is refused too.
    Ticket fresh = Ticket.fromJson(place("skipped.bin", 2000, 2).getJsonObject("ticket"));
    Frame skipped = exchange(nc, serverPorts[fresh.chain().get(1).id()], put(fresh, 1).appendBytes(evil)
        .appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", evilSha)).encode()));
    assertError(skipped, ErrorCode.DENIED, "only the previous server");
    Frame forgedRelay = exchange(nc, serverPorts[fresh.chain().get(1).id()], new Frame(Op.PUT, 1, new JsonObject()
        .put("ticket", fresh.toJson()).put("hop", 1).put("replicas", 2).put("relay", fresh.mac())).encode());
    assertError(forgedRelay, ErrorCode.DENIED, "only the previous server");
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(r -> r.contains("skipped"));
  }

  @Test
  void aTicketForAnotherServerOrAnotherAccessIsDenied() throws Exception {
    Ticket t = Ticket.fromJson(place("misused.bin", 5, 2).getJsonObject("ticket"));
    int stranger = java.util.stream.IntStream.rangeClosed(1, 4)
        .filter(id -> t.chain().stream().noneMatch(h -> h.id() == id)).findFirst().orElseThrow();
    // A PUT ticket shown to a server outside its chain, as hop 0 or as any hop.
    assertError(exchange(nc, serverPorts[stranger], put(t, 0).appendString("hello")), ErrorCode.DENIED,
        "not for server " + stranger);
    assertError(exchange(nc, serverPorts[stranger], put(t, 1).appendString("hello")), ErrorCode.DENIED,
        "not for server " + stranger);
    // The second server of the chain, claiming to be hop 0.
    int second = t.chain().get(1).id();
    assertError(exchange(nc, serverPorts[second], put(t, 0).appendString("hello")), ErrorCode.DENIED,
        "not for server " + second);
    // A PUT ticket used to read, and a read ticket (for a stored file) used to write it.
    assertError(exchange(nc, serverPorts[t.chain().get(0).id()], get(t, 0)), ErrorCode.DENIED, "does not allow get");
    JsonObject plan = cluster.client.request(new JsonObject().put("op", "restore").put("path", "kept/precious.bin"))
        .await();
    JsonObject src = plan.getJsonArray("files").getJsonObject(0).getJsonArray("sources").getJsonObject(0);
    Ticket read = Ticket.fromJson(src.getJsonObject("ticket"));
    byte[] evil = new byte[(int) read.size()];
    Frame f = exchange(nc, src.getInteger("port"), put(read, 0).appendBytes(evil));
    assertError(f, ErrorCode.DENIED, "does not allow put");
    // A read ticket of one server shown to another.
    int other = read.chain().get(0).id() % 4 + 1;
    assertError(exchange(nc, serverPorts[other], get(read, 0)), ErrorCode.DENIED, "not for server " + other);
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(r -> r.contains("misused"));
  }

  @Test
  void aPutThatClaimsToWantNoCopiesCannotChangeHowManyCopiesAFileKeeps() throws Exception {
    JsonObject placed = place("kept/precious.bin", 4, 2);
    Ticket t = Ticket.fromJson(placed.getJsonObject("ticket"));
    Buffer frame = new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", 0)
        .put("replicas", 0)).encode();
    String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("abcd".getBytes()));
    Frame f = exchange(nc, serverPorts[t.chain().get(0).id()], frame.appendString("abcd")
        .appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", sha)).encode()));
    assertError(f, ErrorCode.PROTOCOL, "replicas");
    JsonObject list = cluster.client.request(new JsonObject().put("op", "list")).await();
    JsonObject entry = list.getJsonArray("files").stream().map(o -> (JsonObject) o)
        .filter(o -> o.getString("name").equals("kept/precious.bin")).findFirst().orElseThrow();
    assertThat(entry.getInteger("replicas")).isEqualTo(4);
    assertThat(entry.getJsonArray("versions")).hasSize(1);
  }

  @Test
  void garbageRightAfterTheBytesOfAPutLeavesNoTemporaryFile() throws Exception {
    // In one write: the PUT, its bytes and garbage, so that the transfer fails while the
    // server is still opening its temporary file.
    for (int i = 0; i < 5; i++) {
      Ticket t = Ticket.fromJson(place("overrun" + i + ".bin", 10, 2).getJsonObject("ticket"));
      Frame f = exchange(nc, serverPorts[t.chain().get(0).id()], put(t, 0).appendString("0123456789")
          .appendString("GARBAGE AFTER THE FILE"));
      assertError(f, ErrorCode.PROTOCOL, "bad magic");
    }
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertNoTempFiles(dir, 4));
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(r -> r.contains("overrun"));
  }

  // ---- names ----

  @Test
  void hostileNamesAreRefusedByTheManagerAndByTheServers() throws Exception {
    List<String> names = List.of("../escape.txt", "a/../../escape.txt", "..", "/etc/passwd", "nul\u0000byte.txt",
        "bell\u0007.txt", "new\nline.txt", "del\u007f.txt", "x".repeat(5000), "a/" + "y".repeat(300), ".bk-tmp/x");
    List<String> before = HostileClients.replicas(dir, 4);
    for (String name : names) {
      Frame f = exchange(nc, managerPort, new Frame(Op.REQUEST, 7, new JsonObject().put("op", "place")
          .put("name", name).put("size", 5).put("replicas", 2)).encode());
      assertThat(f.requestId()).isEqualTo(7);
      assertError(f, ErrorCode.USAGE, "");
      assertThat(f.toException().getMessage()).doesNotContain("\u0000").doesNotContain("\n").hasSizeLessThan(400);
      // Even with a valid signature (as if the secret had leaked), a server refuses the name.
      Ticket t = Ticket.sign(TestSupport.SECRET, "name-" + seq.incrementAndGet(), name, 1, 5, List.of(hop(3)),
          inAMinute());
      cluster.vertx.eventBus().request(Addresses.prepare(3), new JsonObject().put("ticket", t.toJson())).await();
      Frame g = exchange(nc, serverPorts[3], put(t, 0).appendString("hello"));
      assertError(g, ErrorCode.USAGE, "name");
      Frame r = exchange(nc, serverPorts[3], get(Ticket.sign(TestSupport.SECRET, "read-" + seq.incrementAndGet(),
          Ticket.GET, name, 1, 5, List.of(hop(3)), inAMinute()), 0));
      assertThat(r.op()).isEqualTo(Op.ERROR);
      assertThat(r.toException().code()).isIn(ErrorCode.USAGE, ErrorCode.NOT_FOUND);
    }
    assertThat(dir.resolve("escape.txt")).doesNotExist();
    assertThat(dir.resolve("server-3/escape.txt")).doesNotExist();
    assertThat(HostileClients.replicas(dir, 4)).isEqualTo(before);
  }

  // ---- lengths ----

  @Test
  void aFrameClaimingAHugeBodyIsRefusedAtOnce() throws Exception {
    // All at once (each waits out the peer's lingering close).
    List<Raw> peers = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int port : new int[] {managerPort, serverPorts[1]}) {
      for (int length : new int[] {Integer.MAX_VALUE, -1, Integer.MIN_VALUE, Frame.MAX_BODY + 1}) {
        // The header alone, as a peer announcing 2^31 (or a negative number of) bytes would send it.
        peers.add(connect(nc, port).send(header(Op.REQUEST.code(), 9, length)));
      }
    }
    for (Raw r : peers) {
      assertError(r.answer(), ErrorCode.PROTOCOL, "length out of range");
    }
    // Answered at once, not after the idle time (then closed, after the server's short
    // linger that lets the answer reach the peer: not timed).
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(IDLE * 1000L);
    for (Raw r : peers) {
      r.closed.get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aFileOfTwoToTheSixtyThreeBytesIsRefused() throws Exception {
    // Asked of the manager: the largest long, and 2^63 itself (which does not fit one).
    Frame f = exchange(nc, managerPort, new Frame(Op.REQUEST, 1, new JsonObject().put("op", "place")
        .put("name", "huge.bin").put("size", Long.MAX_VALUE).put("replicas", 2)).encode());
    assertError(f, ErrorCode.NOT_ENOUGH_SERVERS, "room");
    Buffer json = Buffer.buffer("{\"v\":1,\"op\":\"place\",\"name\":\"huge.bin\",\"size\":9223372036854775808,\"replicas\":2}");
    Frame g = exchange(nc, managerPort, header(Op.REQUEST.code(), 2, json.length()).appendBuffer(json));
    assertThat(g.op()).isEqualTo(Op.ERROR);
    assertThat(g.toException().code()).isIn(ErrorCode.USAGE, ErrorCode.PROTOCOL);
    // Shown to a server with a valid signature: announcing it and sending it are both refused.
    Ticket t = Ticket.sign(TestSupport.SECRET, "huge-1", "huge.bin", 1, Long.MAX_VALUE, List.of(hop(1), hop(2)),
        inAMinute());
    Future<Object> prepared = cluster.vertx.eventBus().request(Addresses.prepare(1),
        new JsonObject().put("ticket", t.toJson())).map(m -> m.body()).otherwiseEmpty();
    prepared.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(prepared.result()).as("a server accepted to expect 2^63 bytes").isNull();
    Frame h = exchange(nc, serverPorts[2], relayed(t, 1).appendString("0123456789"));
    assertError(h, ErrorCode.DISK_FULL, "no room");
    // A read from an offset far beyond the file.
    JsonObject plan = cluster.client.request(new JsonObject().put("op", "restore").put("path", "kept/precious.bin"))
        .await();
    JsonObject src = plan.getJsonArray("files").getJsonObject(0).getJsonArray("sources").getJsonObject(0);
    Frame r = exchange(nc, src.getInteger("port"), get(Ticket.fromJson(src.getJsonObject("ticket")), Long.MAX_VALUE));
    assertError(r, ErrorCode.PROTOCOL, "offset");
    assertThat(HostileClients.replicas(dir, 4)).noneMatch(x -> x.contains("huge"));
  }

  @Test
  void fieldsOfTheWrongTypeGetAClearError() throws Exception {
    List<JsonObject> requests = List.of(
        new JsonObject().put("op", "place").put("name", "typed.bin").put("size", "big").put("replicas", 2),
        new JsonObject().put("op", "place").put("name", "typed.bin").put("size", 5).put("replicas", "two"),
        new JsonObject().put("op", "stat").put("names", "typed.bin"),
        new JsonObject().put("op", "restore").put("path", "kept").put("version", "latest"),
        new JsonObject().put("op", "replicas").put("path", "kept").put("replicas", new JsonObject()),
        new JsonObject().put("op", 42));
    for (JsonObject req : requests) {
      Frame f = exchange(nc, managerPort, new Frame(Op.REQUEST, 3, req).encode());
      assertThat(f.op()).as("%s", req).isEqualTo(Op.ERROR);
      assertThat(f.toException().code()).as("%s: %s", req, f.toException().getMessage())
          .isIn(ErrorCode.PROTOCOL, ErrorCode.USAGE);
    }
    Ticket t = Ticket.fromJson(place("typed.bin", 5, 2).getJsonObject("ticket"));
    Frame f = exchange(nc, serverPorts[t.chain().get(0).id()], new Frame(Op.PUT, 1, new JsonObject()
        .put("ticket", t.toJson()).put("hop", "first")).encode());
    assertError(f, ErrorCode.PROTOCOL, "");
  }

  // ---- stalled peers ----

  @Test
  void aPeerSendingOneByteAtATimeIsDroppedWithoutStallingOthers() throws Exception {
    // One byte every 0.6 idle timeout: never idle, but a frame that is never finished.
    Buffer frame = new Frame(Op.REQUEST, 5, new JsonObject().put("op", "status")).encode();
    List<Raw> slow = List.of(connect(nc, managerPort), connect(nc, serverPorts[1]), connect(nc, serverPorts[4]));
    long period = IDLE * 600L;
    AtomicInteger sent = new AtomicInteger();
    long timer = cluster.vertx.setPeriodic(0, period, x -> {
      int i = sent.getAndIncrement();
      for (Raw r : slow) {
        if (!r.isClosed()) {
          r.sock.write(frame.getBuffer(i % frame.length(), i % frame.length() + 1));
        }
      }
    });
    try {
      long t0 = System.nanoTime();
      // Others are served meanwhile.
      backupAndRestore(cluster, "beside-slow.bin", 2_000_000, 3, 4);
      for (Raw r : slow) {
        r.closed.get(IDLE * 3L + 5, TimeUnit.SECONDS);
        assertThat(r.frames).as("the dropped peer is told why").singleElement()
            .satisfies(e -> assertError(e, ErrorCode.TIMEOUT, "not completed"));
      }
      assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).isLessThan(IDLE * 3L + 5);
      assertThat(sent.get()).isLessThan(frame.length());
    } finally {
      cluster.vertx.cancelTimer(timer);
      slow.forEach(Raw::close);
    }
  }

  @Test
  void aPeerThatSendsOneByteAndFallsSilentIsDroppedByTheIdleTimeout() throws Exception {
    List<Raw> quiet = new ArrayList<>();
    for (int port : new int[] {managerPort, serverPorts[2]}) {
      quiet.add(connect(nc, port).send(Buffer.buffer(new byte[] {0x42})));
      quiet.add(connect(nc, port));
    }
    try {
      long t0 = System.nanoTime();
      for (Raw r : quiet) {
        r.closed.get(IDLE + 5L, TimeUnit.SECONDS);
      }
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isGreaterThan(IDLE * 1000L - 1500);
    } finally {
      quiet.forEach(Raw::close);
    }
  }

  /** How many fds this process may open (the soft limit), or -1 when unknown. */
  static long openFilesLimit() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          return Long.parseLong(line.substring(26).trim().split("\\s+")[0]);
        }
      }
    } catch (Exception | Error ignored) {
      // not Linux: fall back on the JVM's view below
    }
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.UnixOperatingSystemMXBean os) {
      return os.getMaxFileDescriptorCount();
    }
    return -1;
  }

  @Test
  void aThousandIdleConnectionsDoNotKeepTheServerFromABackup() throws Exception {
    // Each connection costs two descriptors here (both ends live in this process); keep
    // 512 for the cluster itself. With the usual limit (1024 or more raised) this is 1,000.
    long limit = openFilesLimit();
    int count = limit < 0 ? 1000 : (int) Math.max(50, Math.min(1000, (limit - 512) / 2));
    System.out.printf("open-files limit %d: %d idle connections%n", limit, count);
    List<Raw> idle = new java.util.concurrent.CopyOnWriteArrayList<>();
    try {
      // Three in four to server 1 (in the chain of the backup below), one in four to the manager.
      for (int batch = 0; batch < count; batch += 100) {
        List<Future<Void>> connects = new ArrayList<>();
        for (int i = batch; i < Math.min(count, batch + 100); i++) {
          int port = i % 4 == 0 ? managerPort : serverPorts[1];
          connects.add(nc.connect(port, "127.0.0.1").map(s -> {
            idle.add(new Raw(s));
            return null;
          }));
        }
        Future.all(connects).await();
      }
      long opened = System.nanoTime();
      // None closed before its idle time (opening them all can take longer than that on a
      // busy machine: those opened first may be closed by now, as they should be).
      assertThat(idle).hasSize(count).allMatch(r -> !r.isClosed()
          || r.closed.join() - r.opened >= TimeUnit.MILLISECONDS.toNanos(IDLE * 1000L - 500));
      backupAndRestore(cluster, "beside-idle.bin", 5_000_000, 4, 4);
      long stillOpen = idle.stream().filter(r -> !r.isClosed()).count();
      System.out.printf("%d of %d idle connections still open when the backup and restore were done (%d ms)%n",
          stillOpen, count, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened));
      // Then the idle timeout drops every one of them.
      for (Raw r : idle) {
        r.closed.get(IDLE + 30L, TimeUnit.SECONDS);
      }
      System.out.printf("%d idle connections dropped %d ms after they were opened%n", count,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened));
      assertThat(idle).allMatch(r -> r.frames.isEmpty());
    } finally {
      idle.forEach(Raw::close);
    }
  }
}
