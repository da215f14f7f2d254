package dev.backup.client;

import dev.backup.cluster.Ticket;
import dev.backup.config.Config;
import dev.backup.config.Tls;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Names;
import dev.backup.protocol.Op;
import dev.backup.protocol.Scram;
import dev.backup.storage.Sha256Stream;
import dev.backup.storage.TeeStream;
import dev.backup.storage.FileSink;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.streams.WriteStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
  /** Bytes of a restored file queued for its disk before the connection is paused. */
  static final int WRITE_QUEUE = 1024 * 1024;
  /** At most this many idle connections are kept per server (as many as files in flight). */
  static final int IN_FLIGHT_LIMIT = 32;
  /** Files up to this size are read whole and sent with their PUT and COMMIT in one write. */
  static final long WHOLE_MAX = 256 * 1024;

  private final Vertx vertx;
  private final Config config;
  private final Context context;
  private final NetClient netClient;
  private final ExecutorService hashExecutor;
  private final dev.backup.protocol.ConnectionPool pool;
  private final Map<Long, Promise<JsonObject>> pending = new HashMap<>();
  private volatile LocalHashes hashes = LocalHashes.none();
  private NetSocket manager;
  private Future<NetSocket> connecting;
  private long nextRequestId;

  public BackupClient(Vertx vertx, Config config) {
    this.vertx = vertx;
    this.config = config;
    this.context = vertx.getOrCreateContext();
    this.netClient = vertx.createNetClient(Tls.client(config, new NetClientOptions()
        .setConnectTimeout(config.connectTimeoutMs())
        .setIdleTimeout(config.idleTimeoutSeconds()).setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setTcpNoDelay(true).setSendBufferSize(READ_BUFFER)));
    // Kept for the next file; closed well before a server's idle timeout would.
    this.pool = new dev.backup.protocol.ConnectionPool(vertx, netClient,
        Math.min(10_000L, config.idleTimeoutSeconds() * 500L), IN_FLIGHT_LIMIT);
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

  private final java.util.Set<NetSocket> transfers = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.Set<java.nio.file.Path> temps = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private volatile boolean cancelled;

  private void onTransferClosed(NetSocket sock, Runnable action) {
    sock.closeHandler(v -> {
      transfers.remove(sock);
      action.run();
    });
  }

  private void track(NetSocket sock) {
    transfers.add(sock);
    if (cancelled) {
      sock.close();
    }
  }

  /**
   * Stops every transfer in progress (Ctrl-C): their connections close, the servers roll
   * back, the failing operations remove their temporary files.
   */
  public void cancel() {
    cancelled = true;
    context.runOnContext(v -> transfers.forEach(NetSocket::close));
  }

  public boolean cancelled() {
    return cancelled;
  }

  public void resetCancel() {
    cancelled = false;
  }

  /** For a JVM that is going away: close transfers and delete restore temporaries now. */
  public void abortNow() {
    cancel();
    for (java.nio.file.Path p : temps) {
      try {
        java.nio.file.Files.deleteIfExists(p);
      } catch (java.io.IOException ignored) {
        // best effort on the way out
      }
    }
  }

  /** Connections to storage servers opened so far, and transfers that went over one already open. */
  public long[] connectionCounts() {
    return onContext(() -> Future.succeededFuture(new long[] {pool.opened(), pool.reused()})).await();
  }

  /** A future that completes after {@code millis}: a pause between attempts. */
  public Future<Void> pause(long millis) {
    return vertx.timer(millis).mapEmpty();
  }

  /** Sends a control request to the manager and returns its answer. */
  public Future<JsonObject> request(JsonObject body) {
    return onContext(() -> connectManager().compose(sock -> send(sock, body)));
  }

  /** At most this many files in one place request (the manager's limit too). */
  static final int PLACE_BATCH = 64;
  /** And at most this many bytes of names, so that the answer (a ticket each) fits a frame. */
  static final int PLACE_BATCH_NAME_BYTES = 128 * 1024;

  private record PlaceWait(JsonObject req, Promise<JsonObject> answer) {
  }

  /** Place requests asked while one is on its way (on the client's context). */
  private final java.util.ArrayDeque<PlaceWait> placeQueue = new java.util.ArrayDeque<>();
  private boolean placing;
  /** The manager refused a batch as such: an older manager, asked one file at a time. */
  private boolean singlePlaces;
  private long placeRequests;
  private long placedFiles;

  /** How many place requests went to the manager so far, and for how many files. */
  public long[] placeCounts() {
    return onContext(() -> Future.succeededFuture(new long[] {placeRequests, placedFiles})).await();
  }

  /**
   * Asks the manager where to send a file ({@code place}). While one such request is on
   * its way, the next ones wait and then go together, in one request: with many small
   * files in flight that is a round trip to the manager per batch, not per file, and the
   * first file waits for nothing. Each file gets its own answer or failure.
   */
  private Future<JsonObject> place(JsonObject req) {
    return onContext(() -> {
      Promise<JsonObject> p = Promise.promise();
      placeQueue.add(new PlaceWait(req, p));
      if (!placing) {
        sendPlaces();
      }
      return p.future();
    });
  }

  private void sendPlaces() {
    if (cancelled) {
      // (Ctrl-C: nothing queued is placed, so no version is reserved for a file not sent.)
      placeQueue.forEach(w -> w.answer().tryFail(new BackupException(ErrorCode.CANCELLED, "cancelled")));
      placeQueue.clear();
      return;
    }
    List<PlaceWait> batch = new ArrayList<>();
    int nameBytes = 0;
    int most = singlePlaces ? 1 : PLACE_BATCH;
    while (!placeQueue.isEmpty() && batch.size() < most) {
      int bytes = placeQueue.peek().req().getString("name", "").getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
      if (!batch.isEmpty() && nameBytes + bytes > PLACE_BATCH_NAME_BYTES) {
        break;
      }
      nameBytes += bytes;
      batch.add(placeQueue.poll());
    }
    placing = true;
    placeRequests++;
    placedFiles += batch.size();
    Future<Void> sent;
    if (batch.size() == 1) {
      sent = request(batch.get(0).req()).onComplete(batch.get(0).answer()).mapEmpty();
    } else {
      JsonArray items = new JsonArray();
      batch.forEach(w -> items.add(w.req().copy()));
      sent = request(new JsonObject().put("op", "place").put("batch", items)).<Void>map(answer -> {
        JsonArray answers = answer.getJsonArray("answers");
        for (int i = 0; i < batch.size(); i++) {
          Promise<JsonObject> p = batch.get(i).answer();
          JsonObject a = answers == null || i >= answers.size() ? null : answers.getJsonObject(i);
          if (a == null) {
            p.fail(new BackupException(ErrorCode.PROTOCOL, "the manager answered a batch of files short"));
          } else if (a.containsKey("error")) {
            p.fail(BackupException.fromJson(a.getJsonObject("error")));
          } else {
            p.complete(a);
          }
        }
        return null;
      }).recover(t -> {
        BackupException e = BackupException.wrap(t);
        if (e.code() == ErrorCode.USAGE || e.code() == ErrorCode.PROTOCOL) {
          // A manager from before batches reads a batch as one file without a name: ask
          // it one file at a time from now on (a newer one refuses a batch whole only
          // beyond its limits, which these are within).
          singlePlaces = true;
          for (int i = batch.size() - 1; i >= 0; i--) {
            placeQueue.addFirst(batch.get(i));
          }
        } else {
          batch.forEach(w -> w.answer().tryFail(t));
        }
        return Future.succeededFuture();
      });
    }
    sent.onComplete(x -> {
      placing = false;
      if (!placeQueue.isEmpty()) {
        sendPlaces();
      }
    });
  }

  /** How long the manager has to answer a request (a ping, for those that take long). */
  static long answerWithinMs = 30_000;

  /** How often the manager is pinged while it works on a request that takes long. */
  static long keepAliveMs = 15_000;

  /**
   * Requests whose answer comes when the work is done, which may take long: every copy
   * hashed on its server ({@code verify}), every copy made ({@code replicas}).
   */
  private static final Set<String> LONG_REQUESTS = Set.of("verify", "replicas");

  /**
   * Sends one request on the manager connection {@code sock} and returns its answer. One
   * that takes long has no deadline of its own while the manager keeps answering pings on
   * the same connection (which also keeps both ends' idle timeouts from closing it); one
   * not answered in time fails it.
   */
  private Future<JsonObject> send(NetSocket sock, JsonObject body) {
    long id = ++nextRequestId;
    Promise<JsonObject> p = Promise.promise();
    pending.put(id, p);
    java.util.function.Consumer<BackupException> failed = e -> {
      Promise<JsonObject> gone = pending.remove(id);
      if (gone != null) {
        gone.tryFail(e);
      }
    };
    java.util.function.Function<String, BackupException> timedOut = what -> new BackupException(ErrorCode.TIMEOUT,
        "the manager at " + config.managerAddress() + " did not answer " + what);
    long timer;
    if (LONG_REQUESTS.contains(body.getString("op"))) {
      timer = vertx.setPeriodic(keepAliveMs, t -> send(sock, new JsonObject().put("op", "ping")).onFailure(e -> {
        BackupException why = BackupException.wrap(e);
        failed.accept(why.code() == ErrorCode.TIMEOUT
            ? timedOut.apply("a ping within " + answerWithinMs / 1000 + " s while it worked") : why);
      }));
    } else {
      timer = vertx.setTimer(answerWithinMs, t -> failed.accept(timedOut.apply("within " + answerWithinMs / 1000 + " s")));
    }
    sock.write(new Frame(Op.REQUEST, id, body).encode());
    return p.future().onComplete(x -> vertx.cancelTimer(timer));
  }

  /**
   * Signs the new connection in as the configured user when a secret is given (see
   * {@link Scram}): the secret itself never leaves this process, and PBKDF2 runs on a
   * worker. A manager without users answers {@code open} and serves everyone alike.
   */
  private Future<NetSocket> signIn(NetSocket sock) {
    String secret = config.userSecret();
    if (secret == null) {
      return Future.succeededFuture(sock);
    }
    String user = Names.validateUser(config.user());
    String clientNonce = Scram.random(24);
    return send(sock, new JsonObject().put("op", "hello").put("user", user).put("nonce", clientNonce))
        .compose(challenge -> {
          if (challenge.getBoolean("open", false)) {
            return Future.succeededFuture(sock);
          }
          byte[] salt = Scram.unb64(challenge.getString("salt"));
          int iterations = challenge.getInteger("iterations", 0);
          String serverNonce = challenge.getString("nonce");
          if (salt == null || iterations < 1 || iterations > 10_000_000 || serverNonce == null) {
            return Future.failedFuture(new BackupException(ErrorCode.PROTOCOL, "the manager's sign-in answer is malformed"));
          }
          String authMessage = Scram.authMessage(user, clientNonce, serverNonce);
          return vertx.executeBlocking(() -> Scram.b64(Scram.proof(secret, salt, iterations, authMessage)), false)
              .compose(proof -> send(sock, new JsonObject().put("op", "auth").put("proof", proof)))
              .map(ok -> sock);
        })
        .recover(t -> {
          sock.close();
          BackupException e = BackupException.wrap(t);
          return Future.failedFuture(e.code() == ErrorCode.DENIED
              ? new BackupException(ErrorCode.DENIED, "the manager at " + config.managerAddress() + " refused to sign in "
                  + "user '" + user + "': " + e.getMessage() + " (check --user and the secret in BACKUP_SECRET or "
                  + "--secret-file)")
              : e);
        });
  }

  private Future<NetSocket> connectManager() {
    if (manager != null) {
      return Future.succeededFuture(manager);
    }
    if (connecting != null) {
      return connecting;
    }
    connecting = netClient.connect(config.managerPort(), config.managerHost())
        .recover(t -> Future.failedFuture(t instanceof javax.net.ssl.SSLException ssl
            ? new BackupException(ErrorCode.CONNECTION, "cannot make a TLS connection to the manager at "
                + config.managerAddress() + ": " + BackupException.tlsProblem(ssl), t)
            : new BackupException(ErrorCode.CONNECTION, "cannot reach the manager at " + config.managerAddress()
                + " (" + t.getMessage() + "); is it running? (--manager HOST:PORT)", t)))
        .map(sock -> {
          boolean[] answered = {false};
          FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
            @Override
            public void onFrame(Frame f) {
              answered[0] = true;
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
            // A manager that closes a plain connection without a word may be speaking TLS.
            String hint = answered[0] || config.tls() ? ""
                : " before any answer (if the manager uses TLS, set tls=true and tls-ca here too)";
            // (Taken out first: failing one, a ping, fails the request it kept alive, which
            // takes that one out of the map.)
            List<Promise<JsonObject>> lost = new ArrayList<>(pending.values());
            pending.clear();
            for (Promise<JsonObject> p : lost) {
              p.tryFail(new BackupException(ErrorCode.CONNECTION, "lost the connection to the manager at "
                  + config.managerAddress() + hint));
            }
          });
          return sock;
        })
        .compose(this::signIn)
        .onSuccess(sock -> manager = sock)
        .onComplete(ar -> connecting = null);
    return connecting;
  }

  /**
   * What a finished upload reports; {@code unchanged} when the latest version already had
   * these bytes; {@code unread} when that was known from the file's local record, against
   * the latest version given (the file not read, the manager not asked).
   */
  public record Uploaded(String name, long version, long size, String sha256, int copies, boolean unchanged,
                         boolean unread) {
  }

  /**
   * Names asked about in one {@code stat} request: at most this many, and at most
   * {@link #STAT_BATCH_BYTES} of them in UTF-8, so that the question and its answer (each
   * name again, with about 150 bytes of version, size and checksum) fit a frame (1 MiB).
   */
  static final int STAT_BATCH = 500;
  static final int STAT_BATCH_BYTES = 256 * 1024;

  /** The latest versions (size, sha256) the catalog has of these names (asked in batches). */
  public Future<JsonObject> stat(java.util.Collection<String> names) {
    java.util.List<java.util.List<String>> batches = new java.util.ArrayList<>();
    java.util.List<String> batch = new java.util.ArrayList<>();
    int bytes = 0;
    for (String n : names) {
      int b = n.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 4;
      if (!batch.isEmpty() && (batch.size() == STAT_BATCH || bytes + b > STAT_BATCH_BYTES)) {
        batches.add(batch);
        batch = new java.util.ArrayList<>();
        bytes = 0;
      }
      batch.add(n);
      bytes += b;
    }
    batches.add(batch);
    JsonObject files = new JsonObject();
    Future<Void> chain = Future.succeededFuture();
    for (java.util.List<String> b : batches) {
      chain = chain.compose(v -> request(new JsonObject().put("op", "stat").put("names", new io.vertx.core.json.JsonArray(b)))
          .map(r -> {
            files.mergeIn(r.getJsonObject("files", new JsonObject()));
            return null;
          }));
    }
    return chain.map(files);
  }

  /** The whole catalog as {@code list --json} shows it, asked for a page at a time. */
  public Future<JsonObject> list() {
    io.vertx.core.json.JsonArray files = new io.vertx.core.json.JsonArray();
    return listFrom(null, files).map(v -> new JsonObject().put("files", files));
  }

  private Future<Void> listFrom(String after, io.vertx.core.json.JsonArray into) {
    JsonObject req = new JsonObject().put("op", "list").put("paged", true);
    if (after != null) {
      req.put("after", after);
    }
    return request(req).compose(page -> {
      page.getJsonArray("files", new io.vertx.core.json.JsonArray()).forEach(into::add);
      String next = page.getString("next");
      if (next != null && after != null && next.compareTo(after) <= 0) {
        return Future.failedFuture(new BackupException(ErrorCode.PROTOCOL, "the manager's list went back to " + next));
      }
      return next == null ? Future.succeededFuture() : listFrom(next, into);
    });
  }

  /**
   * Backs a file up unless its latest version (from {@link #stat}) has the same bytes:
   * when the sizes match the file is hashed first, and the manager says "unchanged"
   * without a byte being sent.
   */
  public Future<Uploaded> upload(String path, String name, int replicas, JsonObject latest) {
    return upload(path, name, replicas, latest, n -> { });
  }

  public Future<Uploaded> upload(String path, String name, int replicas, JsonObject latest,
                                 java.util.function.LongConsumer progress) {
    return onContext(() -> vertx.fileSystem().props(path).compose(props -> {
      if (latest == null || latest.getLong("size", -1L) != props.size()) {
        return upload(path, name, replicas, progress);
      }
      String latestSha = latest.getString("sha256", "");
      return vertx.executeBlocking(() -> hashes.sha256(name, java.nio.file.Path.of(path)), false)
          .compose(known -> {
            if (known.unread() && known.sha256().equals(latestSha) && known.size() == props.size()) {
              // Not touched since it was read with these bytes, which are the latest version's.
              return Future.succeededFuture(new Uploaded(name, latest.getLong("version"), known.size(), latestSha, 0,
                  true, true));
            }
            return place(new JsonObject().put("op", "place").put("name", name).put("size", known.size())
                .put("replicas", replicas).put("sha256", known.sha256()))
                .compose(placed -> placed.getBoolean("unchanged", false)
                    ? Future.succeededFuture(new Uploaded(name, placed.getLong("version"), known.size(),
                        known.sha256(), 0, true, false))
                    : send(path, name, known.size(), placed, progress));
          });
    }));
  }

  /**
   * Backs one local file up as {@code name} with {@code replicas} copies. Succeeds only
   * when every copy is durable and matches the SHA-256 computed here while sending.
   */
  public Future<Uploaded> upload(String path, String name, int replicas) {
    return upload(path, name, replicas, n -> { });
  }

  private Future<Uploaded> upload(String path, String name, int replicas, java.util.function.LongConsumer progress) {
    return onContext(() -> vertx.fileSystem().props(path).compose(props -> {
      if (!props.isRegularFile()) {
        return Future.failedFuture(new BackupException(ErrorCode.USAGE, name + " is not a regular file"));
      }
      long size = props.size();
      JsonObject req = new JsonObject().put("op", "place").put("name", name).put("size", size)
          .put("replicas", replicas);
      return place(req).compose(placed -> send(path, name, size, placed, progress));
    }));
  }

  private Future<Uploaded> send(String path, String name, long size, JsonObject placed,
                                java.util.function.LongConsumer progress) {
    Ticket ticket = Ticket.fromJson(placed.getJsonObject("ticket"));
    JsonObject primary = placed.getJsonObject("primary");
    int replicas = placed.getInteger("replicas", ticket.chain().size());
    Promise<JsonObject> done = Promise.promise();
    Promise<String> shaSent = Promise.promise();
    String host = primary.getString("host");
    int port = primary.getInteger("port");
    return pool.acquire(host, port)
        .recover(t -> Future.failedFuture(new BackupException(ErrorCode.CONNECTION,
            "cannot reach storage server " + ticket.chain().get(0).id() + ": " + BackupException.reason(t), t)))
        .compose(sock -> {
          track(sock);
          FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
            @Override
            public void onFrame(Frame f) {
              if (f.op() == Op.RESPONSE && shaSent.future().succeeded() && done.tryComplete(f.body())) {
                // The whole exchange is over: the connection serves the next file.
                transfers.remove(sock);
                pool.release(host, port, sock);
                return;
              }
              if (f.op() == Op.ERROR) {
                done.tryFail(f.toException());
              } else {
                done.tryFail(new BackupException(ErrorCode.PROTOCOL, "storage server "
                    + ticket.chain().get(0).id() + " answered out of turn"));
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
          onTransferClosed(sock, () -> done.tryFail(new BackupException(ErrorCode.CONNECTION,
              "storage server " + ticket.chain().get(0).id() + " closed the connection before confirming the backup of "
                  + name)));
          Buffer put = new Frame(Op.PUT, 1, new JsonObject().put("ticket", ticket.toJson()).put("hop", 0)
              .put("replicas", replicas)).encode();
          if (size <= WHOLE_MAX) {
            // Small: read and hashed in one trip to a worker, sent with its PUT and COMMIT in one write.
            vertx.executeBlocking(() -> readWhole(path, name, size), false)
                .onSuccess(w -> {
                  shaSent.complete(w.sha256());
                  sock.write(put.appendBytes(w.bytes())
                      .appendBuffer(new Frame(Op.COMMIT, 1, new JsonObject().put("sha256", w.sha256())).encode()));
                  progress.accept(size);
                })
                .onFailure(t -> {
                  shaSent.tryFail(t);
                  done.tryFail(t);
                  sock.close();
                });
            return done.future().compose(res -> shaSent.future().map(sha -> new Uploaded(name,
                res.getLong("version", ticket.version()), size, sha, res.getJsonArray("stored").size(), false, false)));
          }
          sock.write(put);
          Sha256Stream hasher = new Sha256Stream(vertx.getOrCreateContext(), hashExecutor);
          TeeStream tee = new TeeStream(sock, hasher, TeeStream.counter(progress));
          long readStart = System.currentTimeMillis();
          java.nio.file.Path local = java.nio.file.Path.of(path);
          LocalHashes records = hashes;
          Future<LocalHashes.Stat> before = vertx.executeBlocking(() -> records.statIfKept(local), false);
          Future<AsyncFile> opened = before.compose(x -> vertx.fileSystem().open(path,
                  new OpenOptions().setRead(true).setWrite(false)))
              .recover(t -> Future.failedFuture(new BackupException(ErrorCode.IO, "cannot read " + name + ": "
                  + BackupException.reason(t), t)));
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
                return vertx.executeBlocking(() -> {
                  long now;
                  try {
                    now = java.nio.file.Files.size(local);
                  } catch (java.io.IOException | RuntimeException e) {
                    throw new BackupException(ErrorCode.IO, "cannot read " + name + ": " + BackupException.reason(e), e);
                  }
                  if (now != size) {
                    throw new BackupException(ErrorCode.IO, name + " changed while it was being read; back it up again");
                  }
                  records.record(name, before.result(), records.statIfKept(local), readStart, sha);
                  return sha;
                }, false);
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
              res.getLong("version", ticket.version()), size, sha, res.getJsonArray("stored").size(), false, false)));
        });
  }

  /** A small file's bytes and their SHA-256. */
  private record Whole(byte[] bytes, String sha256) {
  }

  /**
   * Uses these records of the client's own files from now on (see {@link LocalHashes}): a
   * file whose size, times and inode match its record is known unchanged without being read.
   */
  public void useLocalHashes(LocalHashes records) {
    this.hashes = records;
  }

  /** Reads a small file whole (blocking), refusing one whose size is no longer {@code size}. */
  private Whole readWhole(String path, String name, long size) throws java.io.IOException {
    byte[] bytes = new byte[(int) size];
    int n = 0;
    java.nio.file.Path local = java.nio.file.Path.of(path);
    long readStart = System.currentTimeMillis();
    LocalHashes records = hashes;
    LocalHashes.Stat before = records.statIfKept(local);
    try (var ch = java.nio.channels.FileChannel.open(local, java.nio.file.StandardOpenOption.READ)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
      int r = 0;
      while (b.hasRemaining() && (r = ch.read(b)) >= 0) {
        n += r;
      }
      if (n != size || ch.size() != size) {
        throw new BackupException(ErrorCode.IO, name + " changed while it was being read (" + Math.max(n, ch.size())
            + " of " + size + " bytes); back it up again");
      }
    }
    String sha = dev.backup.storage.BlobStore.sha256(bytes);
    records.record(name, before, records.statIfKept(local), readStart, sha);
    return new Whole(bytes, sha);
  }

  /** What a restore of one file did. */
  public record Restored(String name, long version, long size, java.nio.file.Path target, boolean unchanged) {
  }

  /**
   * Restores one file of a restore plan to {@code target}: streamed into a temporary file
   * beside it, checked (size and SHA-256 against the catalog), forced to disk, then
   * renamed into place. A source that fails mid-way is replaced by the next one from the
   * same offset; a file whose checksum does not match is fetched again from another
   * source. No partial file is left behind.
   */
  public Future<Restored> restore(JsonObject file, java.nio.file.Path target, boolean force,
                                  java.util.function.Consumer<String> notice) {
    return restore(file, target, force, notice, n -> { });
  }

  public Future<Restored> restore(JsonObject file, java.nio.file.Path target, boolean force,
                                  java.util.function.Consumer<String> notice, java.util.function.LongConsumer progress) {
    String name = file.getString("name");
    long size = file.getLong("size");
    String sha = file.getString("sha256");
    long version = file.getLong("version");
    io.vertx.core.json.JsonArray sources = file.getJsonArray("sources", new io.vertx.core.json.JsonArray());
    return onContext(() -> vertx.executeBlocking(() -> {
      java.nio.file.Path t = target.toAbsolutePath();
      if (java.nio.file.Files.isDirectory(t)) {
        throw new BackupException(ErrorCode.EXISTS, "a folder is in the way of " + t);
      }
      if (java.nio.file.Files.isRegularFile(t)) {
        if (java.nio.file.Files.size(t) == size && dev.backup.storage.BlobStore.sha256(t).equals(sha)) {
          return Boolean.TRUE;
        }
        if (!force) {
          throw new BackupException(ErrorCode.EXISTS, t + " exists with other content; use --force to overwrite it");
        }
      }
      try {
        java.nio.file.Files.createDirectories(t.getParent());
      } catch (java.io.IOException e) {
        throw new BackupException(ErrorCode.IO, "cannot create the folder " + t.getParent() + ": " + e);
      }
      if (!java.nio.file.Files.isWritable(t.getParent())) {
        throw new BackupException(ErrorCode.IO, "cannot write into " + t.getParent());
      }
      return Boolean.FALSE;
    }, false).compose(same -> {
      if (same) {
        return Future.succeededFuture(new Restored(name, version, size, target, true));
      }
      if (sources.isEmpty()) {
        return Future.failedFuture(new BackupException(ErrorCode.NOT_ENOUGH_SERVERS,
            "no live server holds " + name + " v" + version));
      }
      java.nio.file.Path tmp = target.toAbsolutePath().resolveSibling(".bk-part-" + java.util.UUID.randomUUID()
          + "-" + target.getFileName());
      return FileSink.create(context, tmp)
          .recover(e -> Future.failedFuture(new BackupException(ErrorCode.IO, "cannot write " + tmp + ": "
              + e.getMessage(), e)))
          .onSuccess(out -> temps.add(tmp))
          .compose(out -> {
            // Written in large pieces and forced on the way, so that the final force finds little left.
            out.setWriteQueueMaxSize(WRITE_QUEUE);
            return new Fetch(name, size, sha, sources, out, notice, progress).from(0)
                .compose(v -> out.flush())
                .eventually(out::close)
                .compose(v -> force ? vertx.fileSystem().move(tmp.toString(), target.toAbsolutePath().toString(),
                    new io.vertx.core.file.CopyOptions().setAtomicMove(true).setReplaceExisting(true))
                    : vertx.executeBlocking(() -> putInPlace(tmp, target.toAbsolutePath(), size, sha), false))
                .recover(e -> vertx.fileSystem().delete(tmp.toString()).transform(x -> Future.failedFuture(e)))
                .onComplete(x -> temps.remove(tmp));
          })
          .map(v -> new Restored(name, version, size, target, false));
    }));
  }

  /**
   * Puts a restored file in place where none was (without --force): a file that appeared
   * there during the restore (another program's, another restore's) is never replaced. A
   * hard link fails if the name is taken, at once; where the file system has no hard links,
   * a move that does not replace (checked just before, a narrower window).
   */
  private static Void putInPlace(java.nio.file.Path tmp, java.nio.file.Path target, long size, String sha)
      throws java.io.IOException {
    try {
      try {
        java.nio.file.Files.createLink(target, tmp);
      } catch (UnsupportedOperationException | java.nio.file.FileSystemException noLink) {
        if (noLink instanceof java.nio.file.FileAlreadyExistsException taken) {
          throw taken;
        }
        java.nio.file.Files.move(tmp, target);
        return null;
      }
    } catch (java.nio.file.FileAlreadyExistsException e) {
      // (The same bytes, from another restore of the same file, say: done all the same.)
      if (!(java.nio.file.Files.isRegularFile(target) && java.nio.file.Files.size(target) == size
          && dev.backup.storage.BlobStore.sha256(target).equals(sha))) {
        throw new BackupException(ErrorCode.EXISTS, target + " appeared during the restore and was left as it is; "
            + "use --force to overwrite it");
      }
    }
    try {
      java.nio.file.Files.deleteIfExists(tmp); // (the file is in place: only its second name goes)
    } catch (java.io.IOException e) {
      // Left as a .bk- file, never taken for a user's file; the restore is done.
    }
    return null;
  }

  /** Tries each source in turn, going on from where the last one stopped. */
  private final class Fetch {
    final String name;
    final long size;
    final String sha;
    final io.vertx.core.json.JsonArray sources;
    final FileSink out;
    final java.util.function.Consumer<String> notice;
    final java.util.function.LongConsumer progress;
    Sha256Stream hasher = new Sha256Stream(vertx.getOrCreateContext(), hashExecutor);
    long done;

    Fetch(String name, long size, String sha, io.vertx.core.json.JsonArray sources, FileSink out,
          java.util.function.Consumer<String> notice, java.util.function.LongConsumer progress) {
      this.progress = progress;
      this.name = name;
      this.size = size;
      this.sha = sha;
      this.sources = sources;
      this.out = out;
      this.notice = notice;
    }

    Future<Void> from(int i) {
      JsonObject src = sources.getJsonObject(i);
      int id = src.getInteger("id");
      return fetch(src, size, done, out, hasher, n -> {
        done += n;
        progress.accept(done);
      })
          .compose(v -> hasher.digest())
          .compose(got -> got.equals(sha) ? Future.<Void>succeededFuture() : restart(id))
          .recover(e -> {
            BackupException be = BackupException.wrap(e);
            if (i + 1 >= sources.size()) {
              return Future.failedFuture(be);
            }
            int next = sources.getJsonObject(i + 1).getInteger("id");
            notice.accept(name + ": " + be.getMessage() + "; going on from server " + next
                + (done > 0 ? " at byte " + done : ""));
            return from(i + 1);
          });
    }

    /** Bad bytes from some source: start over, empty, from the next one. */
    private Future<Void> restart(int id) {
      done = 0;
      hasher = new Sha256Stream(vertx.getOrCreateContext(), hashExecutor);
      return out.truncate().compose(x -> Future.failedFuture(
          new BackupException(ErrorCode.INTEGRITY, "the copy from server " + id + " does not match its checksum")));
    }
  }

  /** One GET from one source, appending to the file from {@code offset}. */
  private Future<Void> fetch(JsonObject src, long size, long offset, WriteStream<Buffer> file, Sha256Stream hasher,
                             java.util.function.LongConsumer progress) {
    int id = src.getInteger("id");
    Promise<Void> done = Promise.promise();
    String host = src.getString("host");
    int port = src.getInteger("port");
    return pool.acquire(host, port)
        .recover(t -> Future.failedFuture(new BackupException(ErrorCode.CONNECTION,
            "cannot reach storage server " + id + ": " + BackupException.reason(t), t)))
        .compose(sock -> {
          track(sock);
          TeeStream tee = new TeeStream(file, hasher);
          tee.exceptionHandler(t -> {
            done.tryFail(new BackupException(ErrorCode.IO, "cannot write the restored file: " + t.getMessage(), t));
            sock.close();
          });
          FrameDecoder[] decoder = new FrameDecoder[1];
          decoder[0] = new FrameDecoder(new FrameDecoder.Listener() {
            @Override
            public void onFrame(Frame f) {
              if (f.op() == Op.ERROR) {
                done.tryFail(f.toException());
                sock.close();
              } else if (f.op() == Op.RESPONSE && f.body().getLong("size", -1L) == size) {
                decoder[0].expectRaw(size - offset);
              } else {
                onError(new BackupException(ErrorCode.INTEGRITY, "server " + id + " offers a copy of another size"));
              }
            }

            @Override
            public void onData(io.vertx.core.buffer.Buffer data) {
              if (done.future().isComplete()) {
                // A paused socket may deliver what it had queued after it closed: too late to count.
                return;
              }
              progress.accept(data.length());
              tee.write(data);
              if (tee.writeQueueFull()) {
                sock.pause();
                tee.drainHandler(v -> {
                  if (!done.future().isComplete()) {
                    sock.resume();
                  }
                });
              }
            }

            @Override
            public void onDataEnd() {
              if (done.tryComplete()) {
                // Every byte arrived: the connection serves the next file.
                transfers.remove(sock);
                pool.release(host, port, sock);
              }
            }

            @Override
            public void onError(BackupException error) {
              done.tryFail(error);
              sock.close();
            }
          });
          sock.handler(decoder[0]::feed);
          onTransferClosed(sock, () -> done.tryFail(new BackupException(ErrorCode.CONNECTION,
              "storage server " + id + " stopped sending")));
          sock.write(new Frame(Op.GET, 1, new JsonObject().put("ticket", src.getJsonObject("ticket"))
              .put("offset", offset)).encode());
          return done.future();
        });
  }

  @Override
  public void close() {
    context.runOnContext(v -> pool.closeIdle());
    hashExecutor.shutdownNow();
    netClient.close();
  }
}
