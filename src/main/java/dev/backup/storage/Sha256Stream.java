package dev.backup.storage;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * A write stream that computes SHA-256 off the event loop, in order, while the caller goes
 * on with I/O. The buffers written while the hasher is busy are hashed together in its
 * next trip: one hand-off to the executor and one back per batch, not per buffer (a
 * socket delivers 64 KiB at a time; at several hundred MB/s that was thousands of trips a
 * second). Bytes queued for hashing count against the write queue, so a slow hasher
 * pauses the source like a slow disk. The buffers written must not be changed afterwards.
 * Used from its context's thread only.
 */
public final class Sha256Stream implements WriteStream<Buffer> {
  private final ContextInternal context;
  private final Executor executor;
  private final MessageDigest md;
  private List<ByteBuffer> batch = new ArrayList<>();
  private List<Promise<Void>> waiting = new ArrayList<>();
  private long batchBytes;
  private boolean busy;
  private Throwable failure;
  private Promise<String> digest;
  private long queued;
  private long total;
  private long trips;
  private int maxQueued = 4 * 1024 * 1024;
  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;

  public Sha256Stream(Context context, Executor executor) {
    this.context = (ContextInternal) context;
    this.executor = executor;
    try {
      this.md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public Future<Void> write(Buffer data) {
    int len = data.length();
    if (failure != null) {
      return Future.failedFuture(failure);
    }
    if (len == 0) {
      return Future.succeededFuture();
    }
    if (digest != null) {
      return Future.failedFuture(new IllegalStateException("written after the digest was asked for"));
    }
    queued += len;
    total += len;
    ByteBuf bb = ((BufferInternal) data).getByteBuf();
    batch.add(bb.nioBuffer());
    batchBytes += len;
    Promise<Void> p = context.promise();
    waiting.add(p);
    next();
    return p.future();
  }

  /** Starts the hasher on what has been written meanwhile, or on the digest once all is hashed. */
  private void next() {
    // One trip at a time: the digest is not thread-safe, and a drain handler run below
    // may already have started the next trip by writing.
    if (busy || failure != null) {
      return;
    }
    if (!batch.isEmpty()) {
      List<ByteBuffer> work = batch;
      List<Promise<Void>> done = waiting;
      long bytes = batchBytes;
      batch = new ArrayList<>();
      waiting = new ArrayList<>();
      batchBytes = 0;
      submit(() -> {
        for (ByteBuffer b : work) {
          md.update(b);
        }
        return null;
      }, (v, err) -> {
        queued -= bytes;
        for (Promise<Void> p : done) {
          settle(p, null, err);
        }
        if (err != null) {
          failed(err);
          return;
        }
        if (drainHandler != null && queued <= maxQueued / 2) {
          Handler<Void> h = drainHandler;
          drainHandler = null;
          h.handle(null);
        }
        next();
      });
    } else if (digest != null) {
      Promise<String> p = digest;
      submit(() -> HexFormat.of().formatHex(md.digest()), (hex, err) -> settle(p, hex, err));
    }
  }

  private <T> void submit(java.util.concurrent.Callable<T> work, io.vertx.core.Completable<T> then) {
    busy = true;
    trips++;
    try {
      executor.execute(() -> {
        T result = null;
        Throwable err = null;
        try {
          result = work.call();
        } catch (Throwable t) {
          err = t;
        }
        T r = result;
        Throwable e = err;
        context.runOnContext(x -> {
          busy = false;
          then.complete(r, e);
        });
      });
    } catch (RuntimeException rejected) {
      busy = false;
      then.complete(null, rejected);
    }
  }

  private static <T> void settle(Promise<T> p, T result, Throwable err) {
    if (err == null) {
      p.tryComplete(result);
    } else {
      p.tryFail(err);
    }
  }

  private void failed(Throwable err) {
    failure = err;
    for (Promise<Void> p : waiting) {
      p.tryFail(err);
    }
    waiting.clear();
    batch.clear();
    if (digest != null) {
      digest.tryFail(err);
    }
    if (exceptionHandler != null) {
      exceptionHandler.handle(err);
    }
  }

  /** The hex SHA-256 of everything written, once it has all been hashed. Asked for once. */
  public Future<String> digest() {
    if (digest == null) {
      digest = context.promise();
      if (failure != null) {
        digest.tryFail(failure);
      } else {
        next();
      }
    }
    return digest.future();
  }

  public long bytesWritten() {
    return total;
  }

  /** How many trips to the executor hashing took so far (fewer than the buffers written when they came fast). */
  public long trips() {
    return trips;
  }

  @Override
  public Future<Void> end() {
    return Future.succeededFuture();
  }

  @Override
  public Sha256Stream exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public Sha256Stream setWriteQueueMaxSize(int maxSize) {
    this.maxQueued = maxSize;
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    return queued >= maxQueued;
  }

  @Override
  public Sha256Stream drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }
}
