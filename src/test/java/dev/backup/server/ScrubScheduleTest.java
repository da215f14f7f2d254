package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When a server's first scrub pass starts after it (re)starts. */
class ScrubScheduleTest {
  private static final long HOUR = 3_600_000L;

  @Test
  void aRestartKeepsTheScheduleOfTheLastPass() {
    long now = 10 * HOUR;
    assertThat(ServerVerticle.firstScrubDelay(now - HOUR / 4, now, HOUR, false)).isEqualTo(3 * HOUR / 4);
  }

  @Test
  void anOverduePassStartsSoonButNotAtOnce() {
    long now = 10 * HOUR;
    assertThat(ServerVerticle.firstScrubDelay(now - 5 * HOUR, now, HOUR, false)).isEqualTo(1000L);
  }

  @Test
  void aClockThatWentBackWaitsNoLongerThanOneInterval() {
    long now = 10 * HOUR;
    assertThat(ServerVerticle.firstScrubDelay(now + 5 * HOUR, now, HOUR, false)).isEqualTo(HOUR);
  }

  @Test
  void copiesWithoutARecordedPassAreScrubbedWithinAMinute() {
    assertThat(ServerVerticle.firstScrubDelay(null, 0, HOUR, false)).isEqualTo(60_000L);
    assertThat(ServerVerticle.firstScrubDelay(null, 0, 2_000L, false)).isEqualTo(2_000L);
  }

  @Test
  void aNewEmptyRootWaitsAWholeInterval() {
    assertThat(ServerVerticle.firstScrubDelay(null, 0, HOUR, true)).isEqualTo(HOUR);
  }
}
