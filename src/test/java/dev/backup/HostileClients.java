package dev.backup;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.client.BackupClient;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/** Raw connections for tests that play a hostile or broken peer, and the checks run after them. */
public final class HostileClients {
  private HostileClients() {
  }

  /** One raw connection: what it received (frames, or a decode error) and when it was closed. */
  public static final class Raw {
    public final NetSocket sock;
    public final List<Frame> frames = new CopyOnWriteArrayList<>();
    public final CompletableFuture<Frame> first = new CompletableFuture<>();
    public final CompletableFuture<Long> closed = new CompletableFuture<>();
    /** When it was made (System.nanoTime), to compare with {@link #closed}. */
    public final long opened = System.nanoTime();
    public volatile BackupException garbled;

    public Raw(NetSocket sock) {
      this.sock = sock;
      FrameDecoder d = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame f) {
          frames.add(f);
          first.complete(f);
        }

        @Override
        public void onData(Buffer data) {
        }

        @Override
        public void onError(BackupException error) {
          garbled = error;
        }
      });
      sock.handler(d::feed);
      sock.exceptionHandler(t -> { });
      sock.closeHandler(v -> closed.complete(System.nanoTime()));
    }

    public Raw send(Buffer b) {
      sock.write(b);
      return this;
    }

    /** The first frame answered, within 10 s. */
    public Frame answer() throws Exception {
      return first.get(10, TimeUnit.SECONDS);
    }

    public boolean isClosed() {
      return closed.isDone();
    }

    public void close() {
      sock.close();
    }
  }

  public static NetClient netClient(Vertx vertx) {
    return vertx.createNetClient(new NetClientOptions().setConnectTimeout(5000));
  }

  public static Raw connect(NetClient nc, int port) {
    return new Raw(nc.connect(port, "127.0.0.1").await());
  }

  /** Connects, sends the bytes and returns the first frame answered. */
  public static Frame exchange(NetClient nc, int port, Buffer bytes) throws Exception {
    Raw r = connect(nc, port);
    try {
      return r.send(bytes).answer();
    } finally {
      r.close();
    }
  }

  /** A frame header as a peer may send it, with any op code and any length. */
  public static Buffer header(int op, long requestId, int length) {
    return Buffer.buffer().appendInt(Frame.MAGIC).appendByte(Frame.VERSION).appendByte((byte) op)
        .appendShort((short) 0).appendLong(requestId).appendInt(length);
  }

  /** No server holds a file being received. */
  public static void assertNoTempFiles(Path dir, int servers) throws Exception {
    for (int id = 1; id <= servers; id++) {
      assertThat(TestSupport.filesUnder(dir.resolve("server-" + id).resolve(".bk-tmp")))
          .as("temporary files of server %d", id).isEmpty();
    }
  }

  /** Every replica (not metadata) on every server, as "server-N/name.vV". */
  public static List<String> replicas(Path dir, int servers) throws Exception {
    List<String> out = new java.util.ArrayList<>();
    for (int id = 1; id <= servers; id++) {
      for (String f : TestSupport.filesUnder(dir.resolve("server-" + id).resolve("files"))) {
        if (!f.endsWith(".meta")) {
          out.add("server-" + id + "/" + f);
        }
      }
    }
    return out;
  }

  /** A real backup with {@code replicas} copies and a restore of it, byte-exact. */
  public static void backupAndRestore(InProcessCluster cluster, String name, long size, long seed, int replicas)
      throws Exception {
    BackupClient client = cluster.client;
    Path f = TestSupport.randomFile(cluster.dir.resolve("client").resolve(name), size, seed);
    BackupClient.Uploaded up = client.upload(f.toString(), name, replicas).await();
    assertThat(up.copies()).isEqualTo(replicas);
    for (int id = 1; id < cluster.serverPorts.length; id++) {
      Path copy = cluster.dir.resolve("server-" + id).resolve("files").resolve(name + ".v" + up.version());
      if (Files.exists(copy)) {
        assertThat(Files.mismatch(copy, f)).as("copy on server %d", id).isEqualTo(-1L);
      }
    }
    JsonObject plan = client.request(new JsonObject().put("op", "restore").put("path", name)
        .put("version", up.version())).await();
    Path back = cluster.dir.resolve("restored").resolve(name + ".v" + up.version());
    client.restore(plan.getJsonArray("files").getJsonObject(0), back, false, n -> { }).await();
    assertThat(Files.mismatch(back, f)).isEqualTo(-1L);
  }
}
