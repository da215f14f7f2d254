package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BackoffTest {
  @Test
  void waitsOneSecondThenDoublingToAMinuteAndStartsOverAfterASuccess() {
    Backoff b = new Backoff();
    assertThat(b.ready(0)).isTrue();
    assertThat(b.failed(10_000)).isEqualTo(1_000);
    assertThat(b.ready(10_999)).isFalse();
    assertThat(b.ready(11_000)).isTrue();
    long wait = 0;
    for (int i = 0; i < 10; i++) {
      wait = b.failed(20_000);
    }
    assertThat(wait).isEqualTo(Backoff.MAX_MS);
    assertThat(b.notBefore()).isEqualTo(20_000 + Backoff.MAX_MS);
    b.succeeded();
    assertThat(b.ready(20_000)).isTrue();
    assertThat(b.failed(30_000)).isEqualTo(1_000);
  }
}
