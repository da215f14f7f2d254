package dev.backup.server;

/**
 * The pause a heal copy takes after sending a slice, so that it uses at most a given
 * share of the time while clients are being served: a slice that took {@code t} is
 * followed by {@code t * (100 - percent) / percent} of rest.
 */
final class HealShare {

  /** No single pause is longer than this, whatever one slow slice took. */
  static final long MAX_PAUSE_MILLIS = 5_000;

  private HealShare() {
  }

  static long pauseMillis(long sliceNanos, int percent) {
    if (percent >= 100 || sliceNanos <= 0) {
      return 0;
    }
    if (percent < 1) {
      throw new IllegalArgumentException("percent must be between 1 and 100: " + percent);
    }
    long restNanos = sliceNanos / percent * (100 - percent);
    return Math.min(MAX_PAUSE_MILLIS, restNanos / 1_000_000);
  }
}
