package dev.backup.storage;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.streams.WriteStream;

/**
 * Writes a large file and has the disk take its bytes while more still arrive: every
 * {@code step} bytes written, a force of the file starts on a worker (one at a time).
 * Without it the kernel keeps the whole file in memory until the final force, which then
 * writes all of it while the sender waits (a gigabyte took 1.2 s here after the transfer
 * itself); with it, that last force finds at most a step or two left.
 *
 * <p>The final {@link #flush()} still forces the whole file before anyone is told it is
 * on disk: the forces on the way only start the work early. A force that fails on the way
 * fails every later write and the final flush (after a failed fsync, a later one may
 * succeed although the bytes are lost).
 */
public final class WriteBehind implements WriteStream<Buffer> {
  /** Bytes written between two forces on the way. */
  public static final long STEP = 32L << 20;

  private final AsyncFile file;
  private final long step;
  private long unforced;
  /** The last force started (on the way, or the final one). */
  private Future<Void> forcing = Future.succeededFuture();
  private Throwable failure;
  /** Writes handed to the file and not yet done: a force does not wait for them. */
  private int writing;
  private Promise<Void> allWritten;

  public WriteBehind(AsyncFile file, long step) {
    this.file = file;
    this.step = step;
  }

  public WriteBehind(AsyncFile file) {
    this(file, STEP);
  }

  @Override
  public Future<Void> write(Buffer data) {
    if (failure != null) {
      return Future.failedFuture(failure);
    }
    Future<Void> written = file.write(data);
    writing++;
    written.onComplete(ar -> {
      if (ar.failed()) {
        failed(ar.cause());
      }
      if (--writing == 0 && allWritten != null) {
        Promise<Void> p = allWritten;
        allWritten = null;
        p.complete();
      }
    });
    unforced += data.length();
    if (unforced >= step && forcing.isComplete()) {
      unforced = 0;
      forcing = file.flush().onFailure(this::failed);
    }
    return written;
  }

  private void failed(Throwable t) {
    if (failure == null) {
      failure = t;
    }
  }

  /**
   * Forces every byte written so far to disk: once every write handed to the file is done
   * (an AsyncFile's own flush does not wait for them: a force could run before the last
   * bytes reached the file) and any force on the way has ended.
   */
  public Future<Void> flush() {
    Future<Void> written;
    if (writing == 0) {
      written = Future.succeededFuture();
    } else {
      if (allWritten == null) {
        allWritten = Promise.promise();
      }
      written = allWritten.future();
    }
    Future<Void> before = forcing;
    Future<Void> done = written.transform(x -> before)
        .transform(x -> failure != null ? Future.<Void>failedFuture(failure) : file.flush());
    forcing = done;
    return done;
  }

  /** Waits for the last force started (on the way, or the final one) to end, whatever it gave: before the file closes. */
  public Future<Void> settled() {
    return forcing.transform(x -> Future.succeededFuture());
  }

  /** Why a force on the way failed, or null. */
  public Throwable failure() {
    return failure;
  }

  @Override
  public Future<Void> end() {
    return flush();
  }

  @Override
  public WriteBehind exceptionHandler(Handler<Throwable> handler) {
    file.exceptionHandler(handler);
    return this;
  }

  @Override
  public WriteBehind setWriteQueueMaxSize(int maxSize) {
    file.setWriteQueueMaxSize(maxSize);
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    return file.writeQueueFull();
  }

  @Override
  public WriteBehind drainHandler(Handler<Void> handler) {
    file.drainHandler(handler);
    return this;
  }
}
