package dev.backup.cluster;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Requests that travel together: while one batch is on its way, the requests made
 * meanwhile wait and go as the next batch (at most {@code max} in one). Under load a
 * burst of small files costs a few messages, not one each; when idle a request goes at
 * once. The send function answers with one result per request, in order. Used from one
 * Vert.x context.
 */
public final class Batcher<T, R> {
  private final Function<List<T>, Future<List<Future<R>>>> send;
  private final int max;
  private final List<T> items = new ArrayList<>();
  private final List<Promise<R>> waiting = new ArrayList<>();
  private boolean busy;
  private long batches;

  public Batcher(Function<List<T>, Future<List<Future<R>>>> send, int max) {
    this.send = send;
    this.max = max;
  }

  public Future<R> submit(T item) {
    Promise<R> p = Promise.promise();
    items.add(item);
    waiting.add(p);
    next();
    return p.future();
  }

  /** How many batches went so far. */
  public long batches() {
    return batches;
  }

  private void next() {
    if (busy || items.isEmpty()) {
      return;
    }
    int n = Math.min(max, items.size());
    List<T> batch = new ArrayList<>(items.subList(0, n));
    List<Promise<R>> promises = new ArrayList<>(waiting.subList(0, n));
    items.subList(0, n).clear();
    waiting.subList(0, n).clear();
    busy = true;
    batches++;
    Future<List<Future<R>>> sent;
    try {
      sent = send.apply(batch);
    } catch (RuntimeException e) {
      sent = Future.failedFuture(e);
    }
    sent.onComplete(ar -> {
      busy = false;
      for (int i = 0; i < promises.size(); i++) {
        Promise<R> p = promises.get(i);
        if (ar.failed()) {
          p.tryFail(ar.cause());
        } else if (i < ar.result().size()) {
          ar.result().get(i).onComplete(r -> {
            if (r.succeeded()) {
              p.tryComplete(r.result());
            } else {
              p.tryFail(r.cause());
            }
          });
        } else {
          p.tryFail(new IllegalStateException("no answer for request " + (i + 1) + " of " + promises.size()));
        }
      }
      next();
    });
  }
}
