package dev.backup.placement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LoadAwarePlacementTest {
  private static final long GIB = 1L << 30;

  static ServerLoad server(int id, boolean alive, long bytes, int transfers) {
    return new ServerLoad(id, "127.0.0.1", 7000 + id, alive, bytes, 0, 100 * GIB, transfers, 200);
  }

  @Test
  void neverTwoCopiesOnOneServer() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    p.onClusterChanged(List.of(server(1, true, 0, 0), server(2, true, 0, 0), server(3, true, 0, 0)));
    for (int r = 1; r <= 3; r++) {
      List<ServerLoad> chosen = p.choose(r, 10, Set.of());
      assertThat(chosen).hasSize(r);
      assertThat(chosen.stream().map(ServerLoad::id).distinct().count()).isEqualTo(r);
    }
  }

  @Test
  void prefersTheLeastLoaded() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    p.onClusterChanged(List.of(server(1, true, 50 * GIB, 0), server(2, true, 1 * GIB, 0),
        server(3, true, 1 * GIB, 5), server(4, true, 2 * GIB, 0)));
    assertThat(p.choose(2, 10, Set.of())).extracting(ServerLoad::id).containsExactly(2, 4);
  }

  @Test
  void transfersInProgressAndLatencyCount() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    ServerLoad slow = new ServerLoad(1, "h", 1, true, 0, 0, 100 * GIB, 0, 500_000);
    ServerLoad busy = server(2, true, 0, 10);
    ServerLoad idle = server(3, true, 0, 0);
    p.onClusterChanged(List.of(slow, busy, idle));
    assertThat(p.choose(1, 10, Set.of())).extracting(ServerLoad::id).containsExactly(3);
  }

  @Test
  void refusesWhenFewerThanRAreAliveAndSkipsDeadOnes() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    p.onClusterChanged(List.of(server(1, true, 0, 0), server(2, false, 0, 0), server(3, true, 0, 0)));
    assertThat(p.liveCount()).isEqualTo(2);
    assertThat(p.choose(2, 10, Set.of())).extracting(ServerLoad::id).containsExactlyInAnyOrder(1, 3);
    assertThatThrownBy(() -> p.choose(3, 10, Set.of()))
        .isInstanceOfSatisfying(BackupException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.NOT_ENOUGH_SERVERS);
          assertThat(e.getMessage()).contains("only 2 servers are alive");
        });
  }

  @Test
  void excludedServersAndFullDisksAreNotChosen() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    ServerLoad full = new ServerLoad(4, "h", 1, true, 0, 0, 1024, 0, 0);
    p.onClusterChanged(List.of(server(1, true, 0, 0), server(2, true, 0, 0), server(3, true, 0, 0), full));
    assertThat(p.choose(2, 10, Set.of(1))).extracting(ServerLoad::id).containsExactly(2, 3);
    assertThatThrownBy(() -> p.choose(4, 10, Set.of())).hasMessageContaining("room");
  }

  @Test
  void rBelowOneIsAUsageError() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    p.onClusterChanged(List.of(server(1, true, 0, 0)));
    assertThatThrownBy(() -> p.choose(0, 1, Set.of()))
        .isInstanceOfSatisfying(BackupException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE));
  }

  @Test
  void aSizeNearTwoToTheSixtyThreeDoesNotWrapAroundIntoFitting() {
    LoadAwarePlacement p = new LoadAwarePlacement();
    p.onClusterChanged(List.of(server(1, true, 0, 0), server(2, true, 0, 0)));
    for (long size : new long[] {Long.MAX_VALUE, Long.MAX_VALUE - LoadAwarePlacement.HEADROOM + 1, 100 * GIB}) {
      assertThatThrownBy(() -> p.choose(1, size, Set.of()))
          .isInstanceOfSatisfying(BackupException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.NOT_ENOUGH_SERVERS);
            assertThat(e.getMessage()).contains("room for " + size + " bytes");
          });
    }
  }
}
