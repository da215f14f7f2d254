package dev.backup.client;

import dev.backup.cluster.Ticket;
import dev.backup.config.Config;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import dev.backup.storage.Sha256Stream;
import dev.backup.storage.TeeStream;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The client's side of the protocol: control requests to the manager over one kept-open
 * connection, and file uploads streamed to the primary server the manager names. All
 * work runs on one Vert.x context; the public methods may be called from any thread and
 * their futures awaited off the event loop.
 */
public final class BackupClient implements AutoCloseable {
  static final int READ_BUFFER = 256 * 1024;

  private final Vertx vertx;
  private final Config config;
  private final Context context;
  private final NetClient netClient;
  private final ExecutorService hashExecutor;
  private final Map<Long, Promise<JsonObject>> pending = new HashMap<>();
  private NetSocket manager;
  private Future<NetSocket> connecting;
  private long nextRequestId;

  public BackupClient(Vertx vertx, Config config) {
    this.vertx = vertx;
    this.config = config;
    this.context = vertx.getOrCreateContext();
    this.netClient = vertx.createNetClient(new NetClientOptions()
        .setConnectTimeout(config.connectTimeoutMs())
        .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setTcpNoDelay(true).setSendBufferSize(READ_BUFFER));
    this.hashExecutor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "backup-client-hash");
      t.setDaemon(true);
      return t;
    });
  }

  private <T> Future<T> onContext(Supplier<Future<T>> work) {
    Promise<T> p = Promise.promise();
    context.runOnContext(v -> {
      try {
        work.get().onComplete(p);
      } catch (Throwable t) {
        p.fail(t);
      }
    });
    return p.future().recover(t -> Future.failedFuture(BackupException.wrap(t)));
  }

  /** Sends a control request to the manager and returns its answer. */
  public Future<JsonObject> request(JsonObject body) {
    return onContext(() -> connectManager().compose(sock -> {
      long id = ++nextRequestId;
      Promise<JsonObject> p = Promise.promise();
      pending.put(id, p);
      long timer = vertx.setTimer(30_000, t -> {
        Promise<JsonObject> gone = pending.remove(id);
        if (gone != null) {
          gone.tryFail(new BackupException(ErrorCode.TIMEOUT,
              "the manager at " + config.managerAddress() + " did not answer within 30 s"));
        }
      });
      sock.write(new Frame(Op.REQUEST, id, body).encode());
      return p.future().onComplete(x -> vertx.cancelTimer(timer));
    }));
  }

  private Future<NetSocket> connectManager() {
    if (manager != null) {
      return Future.succeededFuture(manager);
    }
    if (connecting != null) {
      return connecting;
    }
    connecting = netClient.connect(config.managerPort(), config.managerHost())
        .recover(t -> Future.failedFuture(new BackupException(ErrorCode.CONNECTION,
            "cannot reach the manager at " + config.managerAddress() + " (" + t.getMessage()
                + "); is it running? (--manager HOST:PORT)", t)))
        .onComplete(ar -> connecting = null)
        .map(sock -> {
          manager = sock;
          FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
            @Override
            public void onFrame(Frame f) {
              Promise<JsonObject> p = pending.remove(f.requestId());
              if (p == null) {
                return;
              }
              if (f.op() == Op.ERROR) {
                p.tryFail(f.toException());
              } else {
                p.tryComplete(f.body());
              }
            }

            @Override
            public void onError(BackupException error) {
              sock.close();
            }
          });
          sock.handler(decoder::feed);
          sock.closeHandler(v -> {
            if (manager == sock) {
              manager = null;
            }
            for (Promise<JsonObject> p : pending.values()) {
              p.tryFail(new BackupException(ErrorCode.CONNECTION, "lost the connection to the manager at "
                  + config.managerAddress()));
            }
            pending.clear();
          });
          return sock;
        });
    return connecting;
  }

  /** What a finished upload reports. */
  public record Uploaded(String name, long version, long size, String sha256, int copies) {
  }

  /**
   * Backs one local file up as {@code name} with {@code replicas} copies. Succeeds only
   * when every copy is durable and matches the SHA-256 computed here while sending.
   */
  public Future<Uploaded> upload(String path, String name, int replicas) {
    return onContext(() -> vertx.fileSystem().props(path).compose(props -> {
      if (!props.isRegularFile()) {
        return Future.failedFuture(new BackupException(ErrorCode.USAGE, name + " is not a regular file"));
      }
      long size = props.size();
      JsonObject req = new JsonObject().put("op", "place").put("name", name).put("size", size)
          .put("replicas", replicas);
      return request(req).compose(placed -> send(path, name, size, placed));
    }));
  }

  private Future<Uploaded> send(String path, String name, long size, JsonObject placed) {
    Ticket ticket = Ticket.fromJson(placed.getJsonObject("ticket"));
    JsonObject primary = placed.getJsonObject("primary");
    int replicas = placed.getInteger("replicas", ticket.chain().size());
    Promise<JsonObject> done = Promise.promise();
    Promise<String> shaSent = Promise.promise();
    return netClient.connect(primary.getInteger("port"), primary.getString("host"))
        .recover(t -> Future.failedFuture(new BackupException(ErrorCode.CONNECTION,
            "cannot reach storage server " + ticket.chain().get(0).id() + ": " + t.getMessage(), t)))
        .compose(sock -> {
          FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
            @Override
            public void onFrame(Frame f) {
              if (f.op() == Op.ERROR) {
                done.tryFail(f.toException());
              } else if (f.op() == Op.RESPONSE) {
                done.tryComplete(f.body());
              }
              sock.close();
            }

            @Override
            public void onError(BackupException error) {
              done.tryFail(error);
              sock.close();
            }
          });
          sock.handler(decoder::feed);
          sock.closeHandler(v -> done.tryFail(new BackupException(ErrorCode.CONNECTION,
              "storage server " + ticket.chain().get(0).id() + " closed the connection before confirming the backup of "
                  + name)));
          sock.write(new Frame(Op.PUT, 1, new JsonObject().put("ticket", ticket.toJson()).put("hop", 0)
              .put("replicas", replicas)).encode());
          Sha256Stream hasher = new Sha256Stream(vertx.getOrCreateContext(), hashExecutor);
          TeeStream tee = new TeeStream(sock, hasher);
          Future<AsyncFile> opened = vertx.fileSystem().open(path, new OpenOptions().setRead(true).setWrite(false));
          opened.compose(file -> {
                file.setReadBufferSize(READ_BUFFER);
                file.setReadLength(size);
                return file.pipe().endOnComplete(false).to(tee)
                    .eventually(() -> file.close());
              })
              .compose(v -> hasher.digest())
              .compose(sha -> {
                if (hasher.bytesWritten() != size) {
                  return Future.failedFuture(new BackupException(ErrorCode.IO,
                      name + " changed while it was being read (" + hasher.bytesWritten() + " of " + size
                          + " bytes); back it up again"));
                }
                return vertx.fileSystem().props(path).compose(p -> p.size() == size ? Future.succeededFuture(sha)
                    : Future.failedFuture(new BackupException(ErrorCode.IO,
                        name + " changed while it was being read; back it up again")));
              })
              .onSuccess(sha -> {
                shaSent.complete(sha);
                sock.write(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", sha)).encode());
              })
              .onFailure(t -> {
                shaSent.tryFail(t);
                if (t instanceof BackupException) {
                  done.tryFail(t);
                  sock.close();
                  return;
                }
                // The connection broke: the server's ERROR frame, if on its way, says why.
                BackupException lost = new BackupException(ErrorCode.CONNECTION, "lost the connection to storage server "
                    + ticket.chain().get(0).id() + " during the transfer (" + t.getMessage() + ")", t);
                vertx.setTimer(2000, x -> {
                  done.tryFail(lost);
                  sock.close();
                });
              });
          return done.future().compose(res -> shaSent.future().map(sha -> new Uploaded(name,
              res.getLong("version", ticket.version()), size, sha, res.getJsonArray("stored").size())));
        });
  }

  @Override
  public void close() {
    hashExecutor.shutdownNow();
    netClient.close();
  }
}
