package dev.backup.storage;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.WriteStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes every buffer to several streams (a file, the next server, a hasher). Its write
 * queue is full while any of theirs is, so a pipe into it goes at the pace of the
 * slowest. {@link #end()} does not end the targets: the caller finishes each its own way.
 */
public final class TeeStream implements WriteStream<Buffer> {
  private final List<WriteStream<Buffer>> targets;
  private Handler<Void> drainHandler;
  private Handler<Throwable> exceptionHandler;
  private Throwable failure;
  private WriteStream<Buffer> failedTarget;

  @SafeVarargs
  public TeeStream(WriteStream<Buffer>... targets) {
    this.targets = new ArrayList<>();
    for (WriteStream<Buffer> t : targets) {
      if (t != null) {
        this.targets.add(t);
      }
    }
  }

  @Override
  public Future<Void> write(Buffer data) {
    if (failure != null) {
      return Future.failedFuture(failure);
    }
    List<Future<Void>> all = new ArrayList<>(targets.size());
    for (WriteStream<Buffer> t : targets) {
      Future<Void> w = t.write(data);
      w.onFailure(x -> failed(t, x));
      all.add(w);
    }
    return Future.all(all).mapEmpty();
  }

  private void failed(WriteStream<Buffer> target, Throwable t) {
    if (failure == null) {
      failure = t;
      failedTarget = target;
      if (exceptionHandler != null) {
        exceptionHandler.handle(t);
      }
    }
  }

  @Override
  public boolean writeQueueFull() {
    for (WriteStream<Buffer> t : targets) {
      if (t.writeQueueFull()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public TeeStream drainHandler(Handler<Void> handler) {
    this.drainHandler = handler;
    if (handler != null) {
      for (WriteStream<Buffer> t : targets) {
        t.drainHandler(v -> checkDrained());
      }
    }
    return this;
  }

  private void checkDrained() {
    if (drainHandler != null && !writeQueueFull()) {
      Handler<Void> h = drainHandler;
      drainHandler = null;
      h.handle(null);
    }
  }

  @Override
  public Future<Void> end() {
    return Future.succeededFuture();
  }

  @Override
  public TeeStream exceptionHandler(Handler<Throwable> handler) {
    this.exceptionHandler = handler;
    return this;
  }

  @Override
  public TeeStream setWriteQueueMaxSize(int maxSize) {
    targets.forEach(t -> t.setWriteQueueMaxSize(maxSize));
    return this;
  }

  /** A write stream that only counts what goes through it, telling {@code progress} the running total. */
  public static WriteStream<Buffer> counter(java.util.function.LongConsumer progress) {
    long[] total = {0};
    return sink(data -> {
      total[0] += data.length();
      progress.accept(total[0]);
    });
  }

  /** A write stream that appends what goes through it to {@code target} (for small files kept whole). */
  public static WriteStream<Buffer> appender(Buffer target) {
    return sink(target::appendBuffer);
  }

  private static WriteStream<Buffer> sink(java.util.function.Consumer<Buffer> each) {
    return new WriteStream<>() {
      @Override
      public Future<Void> write(Buffer data) {
        each.accept(data);
        return Future.succeededFuture();
      }

      @Override
      public Future<Void> end() {
        return Future.succeededFuture();
      }

      @Override
      public WriteStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
        return this;
      }

      @Override
      public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
        return this;
      }

      @Override
      public boolean writeQueueFull() {
        return false;
      }

      @Override
      public WriteStream<Buffer> drainHandler(Handler<Void> handler) {
        return this;
      }
    };
  }

  public Throwable failure() {
    return failure;
  }

  /** The target whose write failed first, or null. */
  public WriteStream<Buffer> failedTarget() {
    return failedTarget;
  }
}
