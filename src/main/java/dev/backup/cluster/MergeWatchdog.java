package dev.backup.cluster;

import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.core.LifecycleListener;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives up on an element whose Hazelcast merge does not end.
 *
 * <p>After a split (a member hung past the failure detector, or the whole machine stalled),
 * the smaller side merges back: its member resets and joins the larger side, which
 * normally takes a few seconds. Seen once, after a 16-s stall of every container: a
 * server stayed MERGING for minutes, its join never answered, counted dead by the
 * manager and holding its event-bus workers on registry lookups that could not end. An
 * element in that state serves nobody, so when a merge has not ended within the limit it
 * is stopped (exit status 6, a connection error), for its supervisor (the container's
 * restart policy, systemd) to start it again: a fresh member joins at once and its copies
 * are reconciled.
 */
public final class MergeWatchdog implements LifecycleListener {
  private static final Logger log = LoggerFactory.getLogger(MergeWatchdog.class);
  public static final long LIMIT_MILLIS = 60_000;

  private final Vertx vertx;
  private final String who;
  private final long limitMillis;
  private final Runnable giveUp;
  private long timer = -1;

  public MergeWatchdog(Vertx vertx, String who, long limitMillis, Runnable giveUp) {
    this.vertx = vertx;
    this.who = who;
    this.limitMillis = limitMillis;
    this.giveUp = giveUp;
  }

  @Override
  public synchronized void stateChanged(LifecycleEvent event) {
    switch (event.getState()) {
      case MERGING -> {
        if (timer < 0) {
          timer = vertx.setTimer(limitMillis, t -> expired());
        }
      }
      case MERGED, MERGE_FAILED, SHUTTING_DOWN, SHUTDOWN -> cancel();
      default -> { }
    }
  }

  private synchronized void cancel() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }

  private void expired() {
    synchronized (this) {
      if (timer < 0) {
        return;
      }
      timer = -1;
    }
    log.error("{}: rejoining the cluster has not ended in {} s; stopping, to be started again", who,
        limitMillis / 1000);
    giveUp.run();
  }

  /** What a daemon does when it gives up: exit with status 6, off the caller's thread (shutdown runs its hooks). */
  public static void exitProcess() {
    Thread t = new Thread(() -> {
      // Stopping can wait on the merge that never ended: do not wait for it forever.
      new java.util.Timer("backup-halt", true).schedule(new java.util.TimerTask() {
        @Override
        public void run() {
          Runtime.getRuntime().halt(6);
        }
      }, 30_000);
      System.exit(6);
    }, "backup-give-up");
    t.start();
  }
}
