package dev.backup.manager;

import java.util.Arrays;

/**
 * A set of version numbers kept as sorted, disjoint, non-adjacent ranges, flattened into
 * one array {@code [from0, to0, from1, to1, ...]} (both ends included). A name's removed
 * versions are mostly one run (its oldest ones, gone by retention, or all of them, gone
 * with the file), broken only by the versions still kept: a few ranges, however many
 * versions were ever removed. The arrays are never changed once made (each change makes
 * a new one), so a view of them may be kept while the set goes on changing.
 */
final class VersionRanges {
  static final long[] EMPTY = new long[0];

  private VersionRanges() {
  }

  static boolean contains(long[] r, long v) {
    return rangeOf(r, v) >= 0;
  }

  /** {@code r} with {@code from..to} added: {@code r} itself if it held them all already. */
  static long[] add(long[] r, long from, long to) {
    if (from > to) {
      throw new IllegalArgumentException("an empty range: " + from + ".." + to);
    }
    int in = rangeOf(r, from);
    if (in >= 0 && in == rangeOf(r, to)) {
      return r;
    }
    long[] out = new long[r.length + 2];
    int n = 0;
    int i = 0;
    // ranges wholly before from (and not touching it) stay as they are
    while (i < r.length && r[i + 1] < from - 1 && from > Long.MIN_VALUE) {
      out[n++] = r[i];
      out[n++] = r[i + 1];
      i += 2;
    }
    // those that overlap or touch from..to are merged into it
    long lo = from;
    long hi = to;
    while (i < r.length && (to == Long.MAX_VALUE || r[i] <= to + 1)) {
      lo = Math.min(lo, r[i]);
      hi = Math.max(hi, r[i + 1]);
      i += 2;
    }
    out[n++] = lo;
    out[n++] = hi;
    while (i < r.length) {
      out[n++] = r[i];
      out[n++] = r[i + 1];
      i += 2;
    }
    return n == out.length ? out : Arrays.copyOf(out, n);
  }

  /** The index in {@code r} of the range that holds {@code v}, or -1. */
  private static int rangeOf(long[] r, long v) {
    // the last range whose start is at most v
    int lo = 0;
    int hi = r.length / 2 - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (r[2 * mid] <= v) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return hi >= 0 && v <= r[2 * hi + 1] ? 2 * hi : -1;
  }
}
