package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.backup.HostileClients;
import dev.backup.HostileClients.Raw;
import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.cluster.Ticket;
import dev.backup.protocol.Frame;
import dev.backup.protocol.Op;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Feeds random bytes, frames with valid headers and garbage bodies, and mutations of real
 * frames (bit flips, truncation, wrong lengths and ops, huge lengths, fields of the wrong
 * type, real tickets with other hops and sizes) to the manager's and the servers' ports,
 * many connections at once, for a bounded time. Then: every element is up and answers,
 * every fuzz connection was answered or dropped (none left hanging), no temporary file is
 * left, what was stored before is intact, the disks and the catalog agree, and a real
 * backup and restore succeed.
 *
 * <p>Seeded: the seed is printed and named in any failure; {@code -Dfuzz.seed=N} repeats
 * a run, {@code -Dfuzz.seconds=S} changes its length (default 20).
 */
class FuzzTest {
  static final int IDLE = 3;
  static final int IN_FLIGHT = 64;

  @TempDir
  Path dir;

  @Test
  void randomAndMutatedFramesLeaveEveryElementUpAndServing() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    long seconds = Long.getLong("fuzz.seconds", 20);
    System.out.printf("fuzz seed %d, %d s (repeat with -Dfuzz.seed=%d)%n", seed, seconds, seed);
    try (InProcessCluster cluster = new InProcessCluster(dir, 4, IDLE)) {
      try {
        new Run(cluster, new Random(seed)).go(seconds * 1000);
      } catch (Throwable t) {
        throw new AssertionError("fuzz run with seed " + seed + " failed (repeat with -Dfuzz.seed=" + seed + "): "
            + t.getMessage(), t);
      }
    }
  }

  static final class Run {
    final InProcessCluster cluster;
    final Random rnd;
    final NetClient nc;
    final List<Buffer> managerFrames = new ArrayList<>();
    final List<Buffer> serverFrames = new ArrayList<>();
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger answered = new AtomicInteger();
    final AtomicLong slowestDropMs = new AtomicLong();
    final List<String> hanging = new java.util.concurrent.CopyOnWriteArrayList<>();
    final List<String> unclear = new java.util.concurrent.CopyOnWriteArrayList<>();

    Run(InProcessCluster cluster, Random rnd) {
      this.cluster = cluster;
      this.rnd = rnd;
      this.nc = HostileClients.netClient(cluster.vertx);
    }

    void go(long millis) throws Exception {
      Path dir = cluster.dir;
      HostileClients.backupAndRestore(cluster, "kept/before.bin", 200_000, 1, 3);
      Path before = dir.resolve("client/kept/before.bin");
      templates();

      long end = System.currentTimeMillis() + millis;
      List<Future<Void>> running = new ArrayList<>();
      while (System.currentTimeMillis() < end) {
        running.removeIf(Future::isComplete);
        while (running.size() < IN_FLIGHT) {
          running.add(oneConnection());
        }
        if (rnd.nextInt(50) == 0) {
          refreshTickets();
        }
        Thread.sleep(5);
      }
      Future.join(new ArrayList<>(running)).toCompletionStage().toCompletableFuture()
          .get(IDLE * 4L + 20, java.util.concurrent.TimeUnit.SECONDS);
      System.out.printf("fuzz: %d connections, %d answered with a frame, slowest drop %d ms%n",
          connections.get(), answered.get(), slowestDropMs.get());
      assertThat(hanging).as("connections neither answered nor dropped").isEmpty();
      assertThat(unclear).as("answered with an internal error instead of saying what is wrong").isEmpty();

      // Every element is up and answers a ping on its port.
      assertThat(cluster.alive()).isEqualTo(4);
      Frame pong = HostileClients.exchange(nc, cluster.managerPort,
          new Frame(Op.REQUEST, 1, new JsonObject().put("op", "ping")).encode());
      assertThat(pong.op()).isEqualTo(Op.RESPONSE);
      for (int id = 1; id <= 4; id++) {
        Frame p = HostileClients.exchange(nc, cluster.serverPorts[id],
            new Frame(Op.REQUEST, 1, new JsonObject().put("op", "ping")).encode());
        assertThat(p.body().getInteger("id")).isEqualTo(id);
      }
      // Nothing half-written, no transfer left counted, what was stored intact, disks and catalog agree.
      await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
        HostileClients.assertNoTempFiles(dir, 4);
        JsonObject status = cluster.client.request(new JsonObject().put("op", "status")).await();
        for (Object o : status.getJsonArray("servers")) {
          assertThat(((JsonObject) o).getInteger("transfers")).as("transfers of %s", o).isZero();
        }
        assertThat(HostileClients.replicas(dir, 4)).containsExactlyInAnyOrderElementsOf(catalogReplicas());
      });
      int copies = 0;
      for (int id = 1; id <= 4; id++) {
        Path c = dir.resolve("server-" + id + "/files/kept/before.bin.v1");
        if (Files.exists(c)) {
          copies++;
          assertThat(Files.mismatch(c, before)).isEqualTo(-1L);
        }
      }
      assertThat(copies).isEqualTo(3);
      HostileClients.backupAndRestore(cluster, "after/fuzz.bin", 3_000_000, 2, 4);
      HostileClients.assertNoTempFiles(dir, 4);
    }

    /** Every copy the catalog knows of, as "server-N/name.vV". */
    List<String> catalogReplicas() {
      JsonObject list = cluster.client.request(new JsonObject().put("op", "list")).await();
      List<String> out = new ArrayList<>();
      for (Object f : list.getJsonArray("files")) {
        JsonObject file = (JsonObject) f;
        for (Object v : file.getJsonArray("versions")) {
          JsonObject ver = (JsonObject) v;
          for (Object id : ver.getJsonArray("replicas")) {
            out.add("server-" + id + "/" + file.getString("name") + ".v" + ver.getLong("version"));
          }
        }
      }
      return out;
    }

    // ---- what is sent ----

    /** Real frames to mutate: every kind of manager request, and server frames with real tickets. */
    void templates() {
      String[] ops = {"ping", "list", "status", "stat", "place", "restore", "replicas", "delete", "verify", "nope"};
      for (String op : ops) {
        JsonObject body = new JsonObject().put("op", op).put("name", "fuzz/f.bin").put("path", "fuzz")
            .put("size", 1000).put("replicas", 2).put("names", new JsonArray().add("fuzz/f.bin")).put("version", 1);
        managerFrames.add(new Frame(Op.REQUEST, rnd.nextLong(), body).encode());
      }
      serverFrames.add(new Frame(Op.REQUEST, 1, new JsonObject().put("op", "ping")).encode());
      serverFrames.add(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", "00".repeat(32))).encode());
      JsonObject plan = cluster.client.request(new JsonObject().put("op", "restore").put("path", "kept/before.bin"))
          .await();
      for (Object o : plan.getJsonArray("files").getJsonObject(0).getJsonArray("sources")) {
        JsonObject src = (JsonObject) o;
        serverFrames.add(new Frame(Op.GET, 1, new JsonObject().put("ticket", src.getJsonObject("ticket"))
            .put("offset", 0)).encode());
      }
      refreshTickets();
    }

    /** A real placement (the manager announces it to its primary): its PUT frames, as hop 0 and later hops. */
    void refreshTickets() {
      long size = 1 + rnd.nextInt(5000);
      JsonObject placed;
      try {
        placed = cluster.client.request(new JsonObject().put("op", "place").put("name", "fuzz/t" + rnd.nextInt(1000))
            .put("size", size).put("replicas", 1 + rnd.nextInt(3))).await();
      } catch (RuntimeException e) {
        return; // a fuzz request may have made the name busy or the servers briefly suspected
      }
      Ticket t = Ticket.fromJson(placed.getJsonObject("ticket"));
      for (int hop = 0; hop < t.chain().size(); hop++) {
        serverFrames.add(new Frame(Op.PUT, 1, new JsonObject().put("ticket", t.toJson()).put("hop", hop)
            .put("replicas", t.chain().size())).encode());
      }
      if (serverFrames.size() > 60) {
        serverFrames.subList(6, 16).clear();
      }
    }

    Buffer randomBytes(int max) {
      byte[] b = new byte[rnd.nextInt(max + 1)];
      rnd.nextBytes(b);
      return Buffer.buffer(b);
    }

    /** One fuzz case: what to send, to which port. */
    Buffer payload(boolean manager) {
      List<Buffer> real = manager ? managerFrames : serverFrames;
      Buffer frame = real.get(rnd.nextInt(real.size())).copy();
      switch (rnd.nextInt(10)) {
        case 0:
          return randomBytes(4096);
        case 1: {
          // A valid header, a garbage body, a length that may lie.
          Buffer body = randomBytes(2000);
          int len = switch (rnd.nextInt(5)) {
            case 0 -> rnd.nextInt();
            case 1 -> Integer.MAX_VALUE;
            case 2 -> body.length() + 1 + rnd.nextInt(100);
            default -> body.length();
          };
          int op = rnd.nextBoolean() ? 1 + rnd.nextInt(6) : rnd.nextInt(256);
          return HostileClients.header(op, rnd.nextLong(), len).appendBuffer(body);
        }
        case 2: {
          // A valid header, a JSON body with fields of every type.
          JsonObject body = new JsonObject();
          for (String k : new String[] {"op", "name", "path", "size", "replicas", "ticket", "hop", "offset", "names",
              "version", "copy", "sha256", "relay"}) {
            if (rnd.nextInt(3) > 0) {
              body.put(k, randomValue());
            }
          }
          Buffer json = body.toBuffer();
          return HostileClients.header(1 + rnd.nextInt(6), rnd.nextLong(), json.length()).appendBuffer(json);
        }
        case 3: {
          for (int i = 1 + rnd.nextInt(8); i > 0; i--) {
            int at = rnd.nextInt(frame.length());
            frame.setByte(at, (byte) (frame.getByte(at) ^ (1 << rnd.nextInt(8))));
          }
          return frame;
        }
        case 4:
          return frame.getBuffer(0, rnd.nextInt(frame.length()));
        case 5:
          frame.setInt(16, rnd.nextBoolean() ? rnd.nextInt() : frame.getInt(16) + rnd.nextInt(21) - 10);
          return frame;
        case 6:
          frame.setByte(5, (byte) rnd.nextInt(256));
          return frame;
        case 7: {
          // A real frame with one field replaced.
          JsonObject body = new JsonObject(frame.getBuffer(Frame.HEADER_LENGTH, frame.length()));
          List<String> keys = new ArrayList<>(body.fieldNames());
          body.put(keys.get(rnd.nextInt(keys.size())), randomValue());
          if (body.getValue("ticket") instanceof JsonObject t && rnd.nextBoolean()) {
            List<String> tk = new ArrayList<>(t.fieldNames());
            t.put(tk.get(rnd.nextInt(tk.size())), randomValue());
          }
          return new Frame(Op.of(frame.getByte(5)), frame.getLong(8), body).encode();
        }
        case 8: {
          // A real frame, then raw bytes and a COMMIT (right or wrong checksum for what was sent).
          Buffer raw = randomBytes(6000);
          String sha = rnd.nextBoolean() ? sha256(raw) : HexFormat.of().formatHex(randomBytes(32).getBytes());
          return frame.appendBuffer(raw).appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", sha))
              .encode()).appendBuffer(rnd.nextBoolean() ? Buffer.buffer() : randomBytes(100));
        }
        default:
          // Several real frames back to back, the last one perhaps cut short.
          Buffer many = Buffer.buffer();
          for (int i = 1 + rnd.nextInt(4); i > 0; i--) {
            many.appendBuffer(real.get(rnd.nextInt(real.size())));
          }
          return rnd.nextBoolean() ? many : many.getBuffer(0, rnd.nextInt(many.length()));
      }
    }

    Object randomValue() {
      return switch (rnd.nextInt(12)) {
        case 0 -> null;
        case 1 -> rnd.nextLong();
        case 2 -> Long.MAX_VALUE;
        case 3 -> -1 - rnd.nextInt(1000);
        case 4 -> rnd.nextDouble() * 1e30;
        case 5 -> "x".repeat(rnd.nextInt(6000));
        case 6 -> "../" + rnd.nextInt(100);
        case 7 -> new JsonObject().put("a", rnd.nextInt());
        case 8 -> new JsonArray().add(rnd.nextInt()).add("b");
        case 9 -> rnd.nextBoolean();
        case 10 -> new String(new char[] {(char) rnd.nextInt(0x20), 'a', '\u0000'});
        default -> rnd.nextInt(5);
      };
    }

    static String sha256(Buffer b) {
      try {
        return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b.getBytes()));
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    /**
     * Opens a connection to the manager or a server, sends a fuzz case (in a few chunks),
     * and completes when the peer answers (then it is closed) or closes it. A peer that neither
     * answers nor closes within
     * the idle timeout and the linger after an error (plus a margin) is recorded as hanging.
     */
    Future<Void> oneConnection() {
      boolean manager = rnd.nextInt(3) == 0;
      int port = manager ? cluster.managerPort : cluster.serverPorts[1 + rnd.nextInt(4)];
      Buffer bytes = payload(manager);
      int cut1 = bytes.length() == 0 ? 0 : rnd.nextInt(bytes.length() + 1);
      int cut2 = cut1 + (bytes.length() == cut1 ? 0 : rnd.nextInt(bytes.length() - cut1 + 1));
      int pause = 1 + rnd.nextInt(20);
      String what = (manager ? "manager" : "server port " + port) + ": " + describe(bytes);
      connections.incrementAndGet();
      Promise<Void> done = Promise.promise();
      long started = System.nanoTime();
      nc.connect(port, "127.0.0.1").onComplete(ar -> {
        if (ar.failed()) {
          hanging.add("cannot connect to " + what + ": " + ar.cause());
          done.complete();
          return;
        }
        Raw r = new Raw(ar.result());
        r.sock.write(bytes.getBuffer(0, cut1));
        cluster.vertx.setTimer(pause, t -> {
          r.sock.write(bytes.getBuffer(cut1, cut2));
          r.sock.write(bytes.getBuffer(cut2, bytes.length()));
        });
        // Answered: done with it (leaving it to the peer's idle timeout would only slow the run).
        r.first.whenComplete((f, e) -> cluster.vertx.setTimer(20, t -> r.close()));
        long guard = cluster.vertx.setTimer((IDLE * 2L + 6) * 1000, t -> {
          hanging.add(what);
          r.close();
        });
        r.closed.whenComplete((x, e) -> cluster.vertx.runOnContext(v -> {
          cluster.vertx.cancelTimer(guard);
          if (!r.frames.isEmpty()) {
            answered.incrementAndGet();
          }
          for (Frame f : r.frames) {
            if (f.op() == Op.ERROR && f.toException().code() == dev.backup.protocol.ErrorCode.INTERNAL) {
              unclear.add(what + " -> " + f.toException().getMessage());
            }
          }
          slowestDropMs.accumulateAndGet((System.nanoTime() - started) / 1_000_000, Math::max);
          done.complete();
        }));
      });
      return done.future();
    }

    static String describe(Buffer b) {
      int n = Math.min(64, b.length());
      return b.length() + " bytes starting " + HexFormat.of().formatHex(b.getBytes(0, n));
    }
  }
}
