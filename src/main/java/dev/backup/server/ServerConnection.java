package dev.backup.server;

import dev.backup.cluster.Ticket;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDeadline;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Names;
import dev.backup.protocol.Op;
import dev.backup.storage.ReplicaMeta;
import dev.backup.storage.Sha256Stream;
import dev.backup.storage.TeeStream;
import dev.backup.storage.FileSink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to a storage server carrying one PUT: the bytes go at once to a
 * temporary file, to the next server of the chain (a pipeline) and to a hasher. At the
 * sender's COMMIT the size and SHA-256 are checked, the file forced to disk, the next
 * server's answer awaited, and only then is the replica moved into place and "done" sent
 * back. Any failure removes the temporary file and reaches the sender as an ERROR frame.
 */
final class ServerConnection implements FrameDecoder.Listener {
  private static final Logger log = LoggerFactory.getLogger(ServerConnection.class);

  private static final long LINGER_MS = 3000;
  /** Files up to this size are received whole in memory (at most this much per connection). */
  static final long WHOLE_MAX = 256 * 1024;

  private enum State { AWAIT_PUT, RECEIVING, AWAIT_COMMIT, FINISHING, DONE, FAILED }

  private final ServerVerticle server;
  private final NetSocket up;
  private final Runnable afterDone;
  private final FrameDecoder decoder = new FrameDecoder(this);
  private final FrameDeadline deadline;
  private final Promise<Void> ready = Promise.promise();
  private final Promise<JsonArray> downResult = Promise.promise();
  private final List<Buffer> backlog = new ArrayList<>();
  private State state = State.AWAIT_PUT;
  private long requestId;
  private Ticket ticket;
  private int hop;
  private int replicasWanted;
  private boolean copy;
  private boolean verified;
  private long received;
  private Path tmp;
  /** The temporary file, written in large pieces and forced on the way (see FileSink). */
  private FileSink file;
  private Buffer whole;
  private NetSocket down;
  private Sha256Stream hasher;
  private TeeStream tee;
  private boolean counted;
  private ReplicaMeta committed;
  /** The primary's report of the stored copies to the manager, once sent. */
  private Future<Void> reported;

  ServerConnection(ServerVerticle server, NetSocket up, Runnable next) {
    this.server = server;
    this.up = up;
    this.afterDone = next;
    this.deadline = new FrameDeadline(server.vertx(), decoder, server.idleTimeoutMs(),
        e -> fail(new BackupException(e.code(), "server " + server.id() + ": " + e.getMessage()), true));
  }

  /** Takes over the connection (its closing is watched by the verticle). */
  void start() {
    up.handler(this::onBytes);
    up.resume();
    up.exceptionHandler(t -> log.debug("server {}: connection error: {}", server.id(), t.toString()));
  }

  private void onBytes(Buffer chunk) {
    decoder.feed(chunk);
    deadline.check();
  }

  @Override
  public void onFrame(Frame frame) {
    try {
      if (state == State.AWAIT_PUT && frame.op() == Op.REQUEST && "ping".equals(frame.body().getString("op"))) {
        // The manager's watch connection: answering shows this server is alive and how fast.
        up.write(new Frame(Op.RESPONSE, frame.requestId(), new JsonObject().put("id", server.id())).encode());
      } else if (state == State.AWAIT_PUT && frame.op() == Op.PUT) {
        onPut(frame);
      } else if (state == State.AWAIT_PUT && frame.op() == Op.GET) {
        onGet(frame);
      } else if (state == State.AWAIT_COMMIT && frame.op() == Op.COMMIT) {
        onCommit(frame);
      } else {
        throw new BackupException(ErrorCode.PROTOCOL, "unexpected " + frame.op() + " frame");
      }
    } catch (RuntimeException e) {
      fail(BackupException.fromRequest(e), true);
    }
  }

  private void onPut(Frame frame) {
    requestId = frame.requestId();
    JsonObject body = frame.body();
    if (!(body.getValue("ticket") instanceof JsonObject tj)) {
      throw new BackupException(ErrorCode.PROTOCOL, "PUT without a ticket");
    }
    ticket = Ticket.fromJson(tj);
    hop = body.getInteger("hop", 0);
    replicasWanted = body.getInteger("replicas", ticket.chain().size());
    copy = body.getBoolean("copy", false);
    ticket.verify(server.secret(), Ticket.PUT, server.id(), hop, System.currentTimeMillis());
    Names.validate(ticket.name());
    // The copies a file keeps are not part of the ticket: a backup's are its chain, a copy's at least one.
    if (replicasWanted < 1 || (!copy && replicasWanted != ticket.chain().size())) {
      throw new BackupException(ErrorCode.PROTOCOL, "replicas " + replicasWanted + " does not match the ticket's "
          + ticket.chain().size() + " server" + (ticket.chain().size() == 1 ? "" : "s"));
    }
    if (hop == 0 && !server.takePrepared(ticket.transferId())) {
      throw new BackupException(ErrorCode.DENIED, "transfer " + ticket.transferId() + " was not announced by the manager");
    }
    // Later hops accept only the previous server of the chain (which proves it knows the
    // cluster secret): a client holding the ticket can neither skip the primary nor replay
    // the ticket there with other bytes over a stored copy.
    if (hop > 0) {
      ticket.verifyRelay(server.secret(), hop, body.getString("relay"));
    }
    verified = true;
    if (!server.hasRoomFor(ticket.size())) {
      throw new BackupException(ErrorCode.DISK_FULL, "server " + server.id() + " has no room for "
          + ticket.size() + " bytes");
    }
    state = State.RECEIVING;
    server.transferStarted(!copy);
    counted = true;
    decoder.expectRaw(ticket.size());
    up.pause();
    tmp = server.store().tempFile(ticket.transferId() + "-" + hop);
    log.debug("server {}: receiving {} v{} ({} bytes, transfer {}, hop {})", server.id(), ticket.name(),
        ticket.version(), ticket.size(), ticket.transferId(), hop);
    // A small file is kept whole in memory and written, forced and placed in one trip to a
    // worker at COMMIT; a larger one streams into its temporary file as it arrives.
    if (ticket.size() <= WHOLE_MAX) {
      whole = Buffer.buffer((int) ticket.size());
    }
    Future<FileSink> opened = whole != null ? Future.succeededFuture(null) : FileSink.create(server.context(), tmp);
    Future<NetSocket> connected = hop + 1 < ticket.chain().size() ? connectDown() : Future.succeededFuture(null);
    Future.join(opened, connected).onComplete(ar -> {
      if (state == State.FAILED) {
        // It failed while the file was being opened: fail() found nothing to close, and its
        // removal may have run before the file existed. Close and remove it now.
        Future<Void> closed = opened.succeeded() && opened.result() != null ? opened.result().close()
            : Future.succeededFuture();
        closed.onComplete(x -> server.discard(tmp));
        if (connected.succeeded() && connected.result() != null) {
          connected.result().close();
        }
        return;
      }
      if (opened.succeeded() && opened.result() != null) {
        file = opened.result();
        file.setWriteQueueMaxSize(ServerVerticle.WRITE_QUEUE);
      }
      if (connected.succeeded()) {
        down = connected.result();
      }
      if (ar.failed()) {
        fail(ar.cause(), true);
        return;
      }
      if (whole != null) {
        tee = new TeeStream(TeeStream.appender(whole), down);
      } else {
        hasher = new Sha256Stream(server.context(), server.hashExecutor());
        tee = new TeeStream(file, down, hasher);
      }
      tee.exceptionHandler(t -> {
        if (down != null && tee.failedTarget() == down) {
          Ticket.Hop next = ticket.chain().get(hop + 1);
          fail(new BackupException(ErrorCode.CONNECTION, "server " + next.id()
              + " stopped answering during the transfer (" + t.getMessage() + ")", t), true);
        } else {
          fail(new BackupException(ErrorCode.IO, "server " + server.id() + " cannot write the copy: "
              + t.getMessage(), t), true);
        }
      });
      for (Buffer b : backlog) {
        tee.write(b);
      }
      backlog.clear();
      ready.tryComplete();
      if (state == State.RECEIVING || state == State.AWAIT_COMMIT) {
        resumeWhenDrained();
      }
    });
  }

  /**
   * Sends a stored copy: a RESPONSE with its size and checksum, then its bytes from the
   * asked offset, straight from the file (zero copy).
   */
  private void onGet(Frame frame) {
    requestId = frame.requestId();
    if (!(frame.body().getValue("ticket") instanceof JsonObject tj)) {
      throw new BackupException(ErrorCode.PROTOCOL, "GET without a ticket");
    }
    ticket = Ticket.fromJson(tj);
    ticket.verify(server.secret(), Ticket.GET, server.id(), 0, System.currentTimeMillis());
    long offset = frame.body().getLong("offset", 0L);
    if (offset < 0 || offset > ticket.size()) {
      throw new BackupException(ErrorCode.PROTOCOL, "offset out of range");
    }
    state = State.FINISHING;
    server.transferStarted(true);
    counted = true;
    up.pause();
    server.readMetaToSend(ticket.name(), ticket.version()).onComplete(ar -> {
      if (state != State.FINISHING) {
        return; // failed meanwhile (the sender went away, or sent something else)
      }
      if (ar.failed()) {
        fail(ar.cause(), true);
        return;
      }
      ReplicaMeta meta = ar.result();
      if (meta.size() != ticket.size()) {
        fail(new BackupException(ErrorCode.INTEGRITY, "server " + server.id() + " holds " + meta.size()
            + " bytes of " + ticket.name() + " v" + ticket.version() + ", not " + ticket.size()), true);
        return;
      }
      String path = server.store().replicaPath(ticket.name(), ticket.version()).toString();
      up.write(new Frame(Op.RESPONSE, requestId, new JsonObject().put("size", meta.size())
          .put("sha256", meta.sha256()).put("offset", offset)).encode());
      up.resume();
      Future<Void> sent = FileSender.send(server.vertx(), up, path, offset, meta.size() - offset, server.tls());
      sent.onComplete(x -> {
        if (x.failed()) {
          fail(x.cause(), false);
          return;
        }
        if (state == State.FINISHING) {
          state = State.DONE;
          finishCount();
          log.debug("server {}: sent {} v{} from offset {}", server.id(), ticket.name(), ticket.version(), offset);
          deadline.cancel();
          afterDone.run();
        }
      });
    });
  }

  private Future<NetSocket> connectDown() {
    Ticket.Hop next = ticket.chain().get(hop + 1);
    Future<NetSocket> acquired;
    try {
      acquired = server.peers().acquire(next.host(), next.port());
    } catch (RuntimeException e) {
      acquired = Future.failedFuture(e); // (a bad address: failed like a refused one, once the file is open)
    }
    return acquired
        .recover(t -> Future.failedFuture(new BackupException(ErrorCode.CONNECTION,
            "server " + next.id() + " cannot be reached: " + BackupException.reason(t), t)))
        .map(sock -> {
          FrameDecoder dd = new FrameDecoder(new FrameDecoder.Listener() {
            @Override
            public void onFrame(Frame f) {
              if (f.op() == Op.RESPONSE) {
                downResult.tryComplete(f.body().getJsonArray("stored", new JsonArray()));
              } else if (f.op() == Op.ERROR) {
                BackupException e = f.toException();
                downResult.tryFail(e);
                fail(e, true);
              } else {
                onError(new BackupException(ErrorCode.PROTOCOL, "unexpected " + f.op()));
              }
            }

            @Override
            public void onError(BackupException error) {
              BackupException e = new BackupException(ErrorCode.PROTOCOL, "server " + next.id() + ": " + error.getMessage());
              downResult.tryFail(e);
              fail(e, true);
            }
          });
          sock.handler(dd::feed);
          sock.closeHandler(v -> {
            BackupException e = new BackupException(ErrorCode.CONNECTION,
                "server " + next.id() + " stopped answering (connection closed)");
            if (downResult.tryFail(e)) {
              fail(e, true);
            }
          });
          sock.exceptionHandler(t -> log.debug("server {}: downstream error: {}", server.id(), t.toString()));
          sock.setWriteQueueMaxSize(ServerVerticle.WRITE_QUEUE);
          JsonObject put = new JsonObject().put("ticket", ticket.toJson()).put("hop", hop + 1)
              .put("replicas", replicasWanted).put("relay", ticket.relayProof(server.secret(), hop + 1));
          sock.write(new Frame(Op.PUT, requestId, put).encode());
          return sock;
        });
  }

  @Override
  public void onData(Buffer data) {
    if (state != State.RECEIVING) {
      // Bytes a paused socket delivers after the transfer failed: drop them.
      return;
    }
    received += data.length();
    if (!ready.future().isComplete()) {
      backlog.add(data);
      up.pause();
      return;
    }
    tee.write(data);
    resumeWhenDrained();
  }

  private void resumeWhenDrained() {
    if (tee.writeQueueFull()) {
      up.pause();
      tee.drainHandler(v -> {
        if (state == State.RECEIVING || state == State.AWAIT_COMMIT) {
          up.resume();
        }
      });
    } else {
      up.resume();
    }
  }

  @Override
  public void onDataEnd() {
    state = State.AWAIT_COMMIT;
  }

  private void onCommit(Frame frame) {
    state = State.FINISHING;
    String senderSha = frame.body().getString("sha256", "");
    ready.future()
        .compose(v -> {
          if (down != null) {
            down.write(new Frame(Op.COMMIT, requestId, new JsonObject().put("sha256", senderSha)).encode());
          }
          // This copy goes into place while the rest of the chain commits theirs; if the
          // chain then fails, it is taken out again (fail() or right here, whichever is later).
          // (A copy of this version that was already here, which this one replaced with the
          // same bytes, is never taken out: the catalog may count it.)
          return (whole != null ? storeWhole(senderSha) : storeStreamed(senderSha)).map(p -> {
            if (state == State.FAILED) {
              if (!p.replaced()) {
                server.discardReplica(p.meta());
              }
            } else if (!p.replaced()) {
              committed = p.meta();
            }
            return p.meta();
          });
        })
        .compose(meta -> {
          Future<JsonArray> downstream = down == null ? Future.succeededFuture(new JsonArray()) : downResult.future();
          Future<ReplicaMeta> local = Future.succeededFuture(meta);
          return Future.all(downstream, local).map(x -> {
            JsonArray all = new JsonArray().add(server.id());
            downstream.result().forEach(all::add);
            return all;
          }).compose(stored -> hop == 0
              ? (reported = server.reportCommitted(ticket, meta.sha256(), stored, replicasWanted, copy)).map(stored)
              : Future.succeededFuture(stored));
        })
        .onSuccess(stored -> {
          if (state != State.FINISHING) {
            return;
          }
          state = State.DONE;
          finishCount();
          log.info("server {}: stored {} v{} ({} bytes, copies on {})", server.id(), ticket.name(),
              ticket.version(), ticket.size(), stored);
          up.write(new Frame(Op.RESPONSE, requestId, new JsonObject().put("stored", stored)
              .put("version", ticket.version())).encode());
          if (down != null) {
            // The next server's exchange ended cleanly too: its connection serves the next file.
            Ticket.Hop h = ticket.chain().get(hop + 1);
            server.peers().release(h.host(), h.port(), down);
            down = null;
          }
          deadline.cancel();
          afterDone.run();
        })
        .onFailure(t -> fail(t, true));
  }

  private ReplicaMeta meta(String sha) {
    return new ReplicaMeta(ticket.name(), ticket.version(), ticket.size(), sha, System.currentTimeMillis(),
        replicasWanted);
  }

  private Future<ServerVerticle.Placed> storeWhole(String senderSha) {
    byte[] bytes = whole.getBytes();
    whole = Buffer.buffer(0);
    return server.storeWhole(tmp, bytes, senderSha, meta(senderSha))
        .recover(t -> Future.failedFuture(BackupException.wrap(t).code() == ErrorCode.INTEGRITY
            ? new BackupException(ErrorCode.INTEGRITY, "server " + server.id() + ": " + t.getMessage()) : t));
  }

  /** Checks the streamed bytes, forces them and their metadata to disk (together), then moves both into place. */
  private Future<ServerVerticle.Placed> storeStreamed(String senderSha) {
    return hasher.digest().compose(sha -> {
      if (received != ticket.size() || !sha.equals(senderSha)) {
        return Future.failedFuture(new BackupException(ErrorCode.INTEGRITY, "server " + server.id()
            + ": received bytes do not match the sender's checksum (" + received + " of "
            + ticket.size() + " bytes)"));
      }
      ReplicaMeta meta = meta(sha);
      FileSink f = file;
      if (f == null || state == State.FAILED) {
        return Future.failedFuture(new BackupException(ErrorCode.IO, "server " + server.id()
            + ": the transfer ended before its copy was on disk"));
      }
      // (A failure meanwhile closes the file: the flush then fails, nothing is placed.)
      Future<Void> flushed = f.flush().compose(v -> closeFile(f));
      return Future.join(flushed, server.writeMeta(tmp, meta)).compose(x -> state == State.FAILED
          ? Future.failedFuture(new BackupException(ErrorCode.IO, "server " + server.id()
              + ": the transfer failed while its copy was forced"))
          : server.placeReplica(tmp, meta));
    });
  }

  @Override
  public void onError(BackupException error) {
    fail(error, true);
  }

  private void finishCount() {
    if (counted) {
      counted = false;
      server.transferEnded(!copy);
    }
  }

  /**
   * Closes the temporary file, whoever asks first (the commit, or a failure after it); the
   * write and force under way end first, and the close never fails (a failure's clean-up
   * must go on to tell the sender).
   */
  private Future<Void> closeFile(FileSink f) {
    if (f == null || f != file) {
      return Future.succeededFuture();
    }
    file = null;
    return f.close();
  }

  /** Aborts the transfer: no temporary file is left and the sender hears why. */
  void fail(Throwable t, boolean tellSender) {
    deadline.cancel();
    if (state == State.DONE || state == State.FAILED) {
      return;
    }
    if (state == State.AWAIT_PUT && !tellSender) {
      // A connection that carried no transfer (a health check, the manager's watch) ended.
      state = State.DONE;
      up.close();
      return;
    }
    state = State.FAILED;
    finishCount();
    boolean keepCopy = ServerVerticle.uncertain(t);
    BackupException e = keepCopy ? ((ServerVerticle.Uncertain) t).reason() : BackupException.wrap(t);
    log.warn("server {}: transfer {} failed: {}", server.id(),
        ticket == null ? "(none)" : Names.printable(ticket.transferId()), e.getMessage());
    ready.tryFail(e);
    downResult.tryFail(e);
    if (down != null) {
      down.close();
    }
    Future<Void> closed = closeFile(file);
    if (tmp != null) {
      Path p = tmp;
      closed.onComplete(x -> server.discard(p));
    }
    if (committed != null && !keepCopy && reported != null && !reported.isComplete()) {
      // The report of this copy is on its way (the sender went away, or this server is
      // stopping, meanwhile): the manager may record it, and its answer decides. Removed
      // only if refused; an answer that never comes keeps it, as below.
      ReplicaMeta m = committed;
      reported.onComplete(ar -> {
        if (ar.failed() && !ServerVerticle.uncertain(ar.cause())) {
          server.discardReplica(m);
        } else if (ar.failed() && copy) {
          server.settleLater(ticket, m, new JsonArray().add(server.id()), replicasWanted);
        }
      });
    } else if (committed != null && !keepCopy) {
      // Moved into place but the transfer as a whole failed: it must not count as a copy.
      // (Unless the manager may have recorded it: then it stays, and is settled with the
      // manager later, or by reconciliation.)
      server.discardReplica(committed);
    } else if (committed != null && copy && hop == 0) {
      server.settleLater(ticket, committed, new JsonArray().add(server.id()), replicasWanted);
    }
    if (verified && hop == 0 && !copy && ticket.access().equals(Ticket.PUT)) {
      server.reportAborted(ticket);
    }
    if (tellSender) {
      // Lingering close: keep reading (and dropping) what the sender still sends, so that
      // closing does not reset the connection and lose the ERROR frame on its way.
      up.handler(b -> { });
      up.resume();
      up.write(Frame.error(requestId, e).encode());
      server.vertx().setTimer(LINGER_MS, x -> up.close());
    } else {
      up.close();
    }
  }

  /** Called when the server stops: roll back whatever is in flight. */
  void abort() {
    fail(new BackupException(ErrorCode.CONNECTION, "server " + server.id() + " is shutting down"), true);
  }

  boolean finished() {
    return state == State.DONE || state == State.FAILED;
  }
}
