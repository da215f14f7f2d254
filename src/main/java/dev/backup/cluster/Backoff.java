package dev.backup.cluster;

/**
 * When to try again after a failure: 1 s after the first, the wait doubling after each
 * further one up to a minute; a success starts it over. Not thread-safe: one owner
 * (an event loop) calls it.
 */
public final class Backoff {
  public static final long FIRST_MS = 1_000;
  public static final long MAX_MS = 60_000;

  private long delay;
  private long notBefore;

  /** A failure at {@code now}: returns how long to wait before the next try. */
  public long failed(long now) {
    delay = delay == 0 ? FIRST_MS : Math.min(MAX_MS, delay * 2);
    notBefore = now + delay;
    return delay;
  }

  public void succeeded() {
    delay = 0;
    notBefore = 0;
  }

  /** Whether a try is due at {@code now}. */
  public boolean ready(long now) {
    return now >= notBefore;
  }

  /** The time before which no try is due. */
  public long notBefore() {
    return notBefore;
  }
}
