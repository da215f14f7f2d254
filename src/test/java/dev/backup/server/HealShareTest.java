package dev.backup.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HealShareTest {

  private static final long MS = 1_000_000L;

  @Test
  void aCopyTakesItsShareOfTheTime() {
    // 40 %: 40 ms of sending, then 60 ms of rest.
    assertThat(HealShare.pauseMillis(40 * MS, 40)).isEqualTo(60);
    // Half: as long a rest as the slice took.
    assertThat(HealShare.pauseMillis(25 * MS, 50)).isEqualTo(25);
    // 10 %: nine times the slice.
    assertThat(HealShare.pauseMillis(10 * MS, 10)).isEqualTo(90);
  }

  @Test
  void fullShareNeverPauses() {
    assertThat(HealShare.pauseMillis(500 * MS, 100)).isZero();
    assertThat(HealShare.pauseMillis(0, 40)).isZero();
  }

  @Test
  void oneSlowSliceDoesNotStallTheCopy() {
    assertThat(HealShare.pauseMillis(60_000 * MS, 10)).isEqualTo(HealShare.MAX_PAUSE_MILLIS);
  }

  @Test
  void refusesANonsenseShare() {
    assertThatThrownBy(() -> HealShare.pauseMillis(MS, 0)).isInstanceOf(IllegalArgumentException.class);
  }
}
