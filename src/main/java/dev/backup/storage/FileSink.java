package dev.backup.storage;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.streams.WriteStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Writes a large file as it arrives, in few large writes, and has the disk take its bytes
 * while more still arrive.
 *
 * <p>Buffers are gathered while a write is under way and go to the file together (from
 * {@link #BATCH_MIN} bytes on), in one trip to a worker: a file arriving in 64 KiB
 * buffers takes a few hundred trips a gigabyte, not sixteen thousand (an AsyncFile makes
 * one per buffer, each a hand-off to a worker thread and back).
 *
 * <p>Every {@code step} bytes written, a force of the file starts on a worker (one at a
 * time, beside the writes). Without it the kernel keeps the whole file in memory until
 * the final force, which then writes all of it while the sender waits (a gigabyte took
 * 1.2 s here after the transfer itself); with it, that last force finds a step or two
 * left. {@link #flush()} writes whatever is still gathered and forces the whole file
 * before anyone is told it is on disk: the forces on the way only start the work early.
 * A write or force that fails fails every later write and the final flush (after a
 * failed fsync, a later one may succeed although the bytes are lost).
 *
 * <p>All its methods are called on the context it was made on.
 */
public final class FileSink implements WriteStream<Buffer> {
  /** Bytes written between two forces on the way. */
  public static final long STEP = 32L << 20;
  /** Gathered bytes from which a write starts (unless the write queue is smaller: a quarter of it). */
  static final int BATCH_MIN = 256 * 1024;
  /** The native buffer each write copies through. */
  private static final int COPY_BUFFER = 1024 * 1024;
  /** Copy buffers of closed sinks, kept for the next ones (the rest are left to the collector). */
  private static final ArrayBlockingQueue<ByteBuffer> SPARE = new ArrayBlockingQueue<>(16);

  /** What the sink does to its file (a seam for tests: a disk that fails, or is slow). */
  interface Channel {
    /** Writes all of {@code src}. */
    void write(ByteBuffer src) throws IOException;

    void force() throws IOException;

    /** Empties the file; the next write goes to its start. */
    void truncate() throws IOException;

    void close() throws IOException;
  }

  private final Context context;
  private final Channel channel;
  private final long step;
  private int maxQueue = 1024 * 1024;
  private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
  /** Bytes gathered, not yet handed to a write. */
  private long queued;
  /** Bytes of the write under way. */
  private long inFlight;
  private boolean writing;
  /** Settled with the write that takes the gathered buffers. */
  private Promise<Void> gathered = Promise.promise();
  /** Waiting for everything gathered to be written (a flush, a close). */
  private Promise<Void> idle;
  private long unforced;
  /** The last force started (on the way, or the final one). */
  private Future<Void> forcing = Future.succeededFuture();
  private Throwable failure;
  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;
  private Future<Void> closed;
  /** How many times gathered bytes were dropped by a close or a truncate: a flush asked before one fails. */
  private long drops;
  /** This sink's copy buffer (used on workers, by one write at a time; back to SPARE at close). */
  private ByteBuffer copy;

  FileSink(Context context, Channel channel, long step) {
    this.context = context;
    this.channel = channel;
    this.step = step;
  }

  /** Creates {@code path} (it must not exist) and a sink writing it, forcing every {@link #STEP} bytes. */
  public static Future<FileSink> create(Context context, Path path) {
    return context.executeBlocking(() -> FileChannel.open(path, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE), false).map(ch -> new FileSink(context, of(ch), STEP));
  }

  static Channel of(FileChannel ch) {
    return new Channel() {
      @Override
      public void write(ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
          ch.write(src);
        }
      }

      @Override
      public void force() throws IOException {
        ch.force(false);
      }

      @Override
      public void truncate() throws IOException {
        ch.truncate(0);
        ch.position(0);
      }

      @Override
      public void close() throws IOException {
        ch.close();
      }
    };
  }

  @Override
  public Future<Void> write(Buffer data) {
    if (failure != null) {
      return Future.failedFuture(failure);
    }
    if (closed != null) {
      return Future.failedFuture(new IllegalStateException("the file is closed"));
    }
    queue.add(data);
    queued += data.length();
    Future<Void> written = gathered.future();
    if (!writing && queued >= batchMin()) {
      startWrite();
    }
    return written;
  }

  private long batchMin() {
    return Math.min(BATCH_MIN, Math.max(1, maxQueue / 4));
  }

  private void startWrite() {
    writing = true;
    List<Buffer> batch = new ArrayList<>(queue);
    queue.clear();
    inFlight = queued;
    queued = 0;
    Promise<Void> done = gathered;
    gathered = Promise.promise();
    onWorker(() -> writeAll(batch)).onComplete(ar -> {
      writing = false;
      long n = inFlight;
      inFlight = 0;
      // The sink's state is settled before the writers hear of it: one that writes more
      // from its callback finds the next write started, or its bytes gathered for it.
      if (ar.failed()) {
        failed(ar.cause());
        afterWrite();
        done.fail(ar.cause());
      } else {
        unforced += n;
        // (Not once closing: a force must not run on a channel being closed.)
        if (unforced >= step && forcing.isComplete() && closed == null && failure == null) {
          unforced = 0;
          forcing = onWorker(channel::force).onFailure(this::failed);
        }
        afterWrite();
        done.complete();
      }
    });
  }

  private interface Io {
    void run() throws IOException;
  }

  private Future<Void> onWorker(Io io) {
    return context.executeBlocking(() -> {
      io.run();
      return null;
    }, false);
  }

  /** On a worker: the buffers, copied through one native buffer, in writes of up to its size. */
  private void writeAll(List<Buffer> batch) throws IOException {
    if (copy == null) {
      copy = SPARE.poll();
      if (copy == null) {
        copy = ByteBuffer.allocateDirect(COPY_BUFFER);
      }
    }
    ByteBuffer buf = copy;
    try {
      buf.clear();
      for (Buffer b : batch) {
        ByteBuf bb = ((BufferInternal) b).getByteBuf();
        int at = bb.readerIndex();
        int left = bb.readableBytes();
        while (left > 0) {
          int n = Math.min(left, buf.remaining());
          buf.limit(buf.position() + n);
          bb.getBytes(at, buf);
          buf.limit(buf.capacity());
          at += n;
          left -= n;
          if (!buf.hasRemaining()) {
            buf.flip();
            channel.write(buf);
            buf.clear();
          }
        }
      }
      if (buf.position() > 0) {
        buf.flip();
        channel.write(buf);
      }
    } finally {
      buf.clear();
    }
  }

  private void afterWrite() {
    // (One write at a time, in order: never start one while another is under way.)
    if (!writing && failure == null && !queue.isEmpty() && (queued >= batchMin() || idle != null)) {
      startWrite();
    } else if (!writing && queue.isEmpty()) {
      settleIdle();
    }
    if (drainHandler != null && !writeQueueFull()) {
      Handler<Void> h = drainHandler;
      drainHandler = null;
      h.handle(null);
    }
  }

  /**
   * Forgets what was gathered and not yet handed to a write: after a failure (its writers
   * hear of it), or to close or start again (they are let go).
   */
  private void dropGathered() {
    queue.clear();
    queued = 0;
    Promise<Void> p = gathered;
    gathered = Promise.promise();
    if (failure == null) {
      p.tryComplete();
    } else {
      p.tryFail(failure);
    }
  }

  private void settleIdle() {
    if (idle != null) {
      Promise<Void> p = idle;
      idle = null;
      p.complete();
    }
  }

  /**
   * A write or force failed: nothing more is written (what is gathered fails with it), and
   * whoever waits for the writes to end hears of it once the write under way ends.
   */
  private void failed(Throwable t) {
    if (failure == null) {
      failure = t;
      dropGathered();
      if (!writing) {
        settleIdle();
      }
      if (exceptionHandler != null) {
        exceptionHandler.handle(t);
      }
    }
  }

  /** Completes once everything gathered so far is written (or a write failed). */
  private Future<Void> whenWritten() {
    if (!writing && queue.isEmpty()) {
      return Future.succeededFuture();
    }
    if (idle == null) {
      idle = Promise.promise();
    }
    Future<Void> f = idle.future();
    if (!writing) {
      startWrite();
    }
    return f;
  }

  /**
   * Writes what is gathered and forces every byte written so far to disk, once any force
   * on the way has ended (no other starts meanwhile). Fails if any write or force has
   * failed, or if the sink was closed or emptied before the force (bytes it covered were
   * dropped).
   */
  public Future<Void> flush() {
    if (closed != null) {
      return Future.failedFuture(new IllegalStateException("the file is closed"));
    }
    long dropsAsked = drops;
    Future<Void> before = forcing;
    Future<Void> done = whenWritten().transform(x -> before).transform(x -> {
      if (failure != null) {
        return Future.failedFuture(failure);
      }
      if (drops != dropsAsked) {
        return Future.failedFuture(new IllegalStateException("the file was closed or emptied before it was forced"));
      }
      return onWorker(channel::force).onFailure(this::failed);
    });
    forcing = done;
    return done;
  }

  /**
   * Empties the file, forgetting what is gathered (a source sent bad bytes: start again);
   * the next write goes to its start. Write nothing until it has ended. A truncate that
   * fails fails the sink (the file would keep the bad bytes).
   */
  public Future<Void> truncate() {
    dropGathered();
    drops++;
    // (The force to wait for is read once the write under way has ended: it may start one.)
    return whenWritten().transform(x -> forcing)
        .transform(x -> failure != null ? Future.<Void>failedFuture(failure)
            : onWorker(channel::truncate).onFailure(this::failed))
        .andThen(ar -> unforced = 0);
  }

  /**
   * Closes the file, once (later calls get the same future; it never fails): what is
   * gathered and not yet written is dropped (call {@link #flush()} first to keep it), the
   * write and force under way end first.
   */
  public Future<Void> close() {
    if (closed == null) {
      dropGathered();
      drops++;
      // The force to wait for is read once the write under way has ended (it may have
      // started one); none starts after that.
      closed = whenWritten().transform(x -> forcing).transform(x -> onWorker(() -> {
        try {
          channel.close();
        } finally {
          if (copy != null) {
            copy.clear();
            SPARE.offer(copy);
            copy = null;
          }
        }
      })).recover(x -> Future.succeededFuture());
    }
    return closed;
  }

  /** Why a write or force failed, or null. */
  public Throwable failure() {
    return failure;
  }

  @Override
  public Future<Void> end() {
    return flush();
  }

  @Override
  public FileSink exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public FileSink setWriteQueueMaxSize(int maxSize) {
    this.maxQueue = maxSize;
    return this;
  }

  @Override
  public boolean writeQueueFull() {
    return queued + inFlight >= maxQueue;
  }

  @Override
  public FileSink drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    return this;
  }
}
