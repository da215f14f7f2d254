package dev.backup.manager;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.function.BooleanSupplier;

/**
 * Long work on the manager's event loop (through a catalog of millions of files), a step at
 * a time: each next step on a timer, so that what arrived meanwhile (requests, reports)
 * runs between two.
 */
final class Steps {
  /** What a step takes (files, counters, tombstones): a few ms of the event loop. */
  static final int SIZE = 20_000;

  private Steps() {
  }

  /**
   * Runs {@code step} until it says it is done; fails with what a step throws (an Error
   * too: whoever waits must hear that it ended). The first step runs now: work that fits
   * in one step is done, and the future completed, before this returns.
   */
  static Future<Void> run(Vertx vertx, BooleanSupplier step) {
    Promise<Void> done = Promise.promise();
    next(vertx, step, done);
    return done.future();
  }

  private static void next(Vertx vertx, BooleanSupplier step, Promise<Void> done) {
    boolean all;
    try {
      all = step.getAsBoolean();
    } catch (Throwable e) {
      done.fail(e);
      return;
    }
    if (all) {
      done.complete();
    } else {
      vertx.setTimer(1, t -> next(vertx, step, done));
    }
  }
}
