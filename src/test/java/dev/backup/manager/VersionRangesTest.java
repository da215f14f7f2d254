package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class VersionRangesTest {
  /** Random additions, each checked against a plain set, and the ranges kept in their one form. */
  @Test
  void rangesHoldExactlyWhatWasAddedInTheFewestRanges() {
    for (long seed = 1; seed <= 300; seed++) {
      Random rnd = new Random(seed);
      TreeSet<Long> plain = new TreeSet<>();
      long[] r = VersionRanges.EMPTY;
      for (int op = 0; op < 40; op++) {
        long from = 1 + rnd.nextInt(60);
        long to = from + (rnd.nextInt(4) == 0 ? rnd.nextInt(6) : 0);
        long[] before = r.clone();
        long[] was = r;
        r = VersionRanges.add(r, from, to);
        assertThat(was).as("an array once made is never changed").containsExactly(before);
        for (long v = from; v <= to; v++) {
          plain.add(v);
        }
        for (long v = 0; v <= 70; v++) {
          assertThat(VersionRanges.contains(r, v)).as("seed %d, %d", seed, v).isEqualTo(plain.contains(v));
        }
        // sorted, disjoint and not touching: the runs of the plain set, one range each
        int runs = 0;
        Long prev = null;
        for (long v : plain) {
          if (prev == null || v != prev + 1) {
            runs++;
          }
          prev = v;
        }
        assertThat(r.length).isEqualTo(2 * runs);
        for (int i = 0; i < r.length; i += 2) {
          assertThat(r[i]).isLessThanOrEqualTo(r[i + 1]);
          if (i > 0) {
            assertThat(r[i]).isGreaterThan(r[i - 1] + 1);
          }
        }
      }
    }
  }

  @Test
  void addingWhatIsHeldAlreadyKeepsTheSameArray() {
    long[] r = VersionRanges.add(VersionRanges.add(VersionRanges.EMPTY, 3, 9), 20, 20);
    assertThat(VersionRanges.add(r, 4, 7)).isSameAs(r);
    assertThat(VersionRanges.add(r, 20, 20)).isSameAs(r);
    assertThat(VersionRanges.add(r, 9, 10)).isNotSameAs(r).containsExactly(3, 10, 20, 20);
  }
}
