package dev.backup.storage;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A write stream that computes SHA-256 off the event loop: each buffer is hashed on the
 * given executor, in order, while the caller goes on with I/O. Bytes queued for hashing
 * count against the write queue, so a slow hasher pauses the source like a slow disk.
 * The buffers written must not be changed afterwards.
 */
public final class Sha256Stream implements WriteStream<Buffer> {
  private final Context context;
  private final Executor executor;
  private final MessageDigest md;
  private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
  private long queued;
  private long total;
  private int maxQueued = 4 * 1024 * 1024;
  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;

  public Sha256Stream(Context context, Executor executor) {
    this.context = context;
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
    if (len == 0) {
      return Future.succeededFuture();
    }
    queued += len;
    total += len;
    ByteBuf bb = ((BufferInternal) data).getByteBuf();
    ByteBuffer nio = bb.nioBuffer();
    Promise<Void> p = ((io.vertx.core.internal.ContextInternal) context).promise();
    tail = tail.thenRunAsync(() -> md.update(nio), executor);
    tail.whenComplete((v, err) -> context.runOnContext(x -> {
      queued -= len;
      if (err != null) {
        p.tryFail(err);
        if (exceptionHandler != null) {
          exceptionHandler.handle(err);
        }
      } else {
        p.tryComplete();
      }
      if (drainHandler != null && queued <= maxQueued / 2) {
        Handler<Void> h = drainHandler;
        drainHandler = null;
        h.handle(null);
      }
    }));
    return p.future();
  }

  /** The hex SHA-256 of everything written, once it has all been hashed. */
  public Future<String> digest() {
    Promise<String> p = ((io.vertx.core.internal.ContextInternal) context).promise();
    tail.thenApplyAsync(v -> HexFormat.of().formatHex(md.digest()), executor)
        .whenComplete((hex, err) -> {
          if (err != null) {
            p.tryFail(err);
          } else {
            p.tryComplete(hex);
          }
        });
    return p.future();
  }

  public long bytesWritten() {
    return total;
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
