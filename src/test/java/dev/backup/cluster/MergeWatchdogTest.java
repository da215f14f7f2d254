package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.core.LifecycleEvent.LifecycleState;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The element gives up when a merge does not end within the limit, and only then. */
class MergeWatchdogTest {
  private final Vertx vertx = Vertx.vertx();
  private final AtomicInteger gaveUp = new AtomicInteger();
  private final MergeWatchdog dog = new MergeWatchdog(vertx, "server 1", 300, gaveUp::incrementAndGet);

  @AfterEach
  void close() {
    vertx.close().await();
  }

  private void state(LifecycleState s) {
    dog.stateChanged(new LifecycleEvent(s));
  }

  @Test
  void aMergeThatDoesNotEndGivesUpOnce() {
    state(LifecycleState.MERGING);
    state(LifecycleState.MERGING);
    await().atMost(Duration.ofSeconds(5)).until(() -> gaveUp.get() == 1);
    vertx.timer(600).await();
    assertThat(gaveUp).hasValue(1);
  }

  @Test
  void aMergeThatEndsInTimeDoesNot() {
    // (A limit of 3 s here: merges of 100 ms, well inside it whatever pauses a busy machine makes.)
    MergeWatchdog patient = new MergeWatchdog(vertx, "server 2", 3_000, gaveUp::incrementAndGet);
    for (LifecycleState end : new LifecycleState[] {LifecycleState.MERGED, LifecycleState.MERGE_FAILED,
        LifecycleState.SHUTTING_DOWN}) {
      patient.stateChanged(new LifecycleEvent(LifecycleState.MERGING));
      vertx.timer(100).await();
      patient.stateChanged(new LifecycleEvent(end));
    }
    patient.stateChanged(new LifecycleEvent(LifecycleState.STARTED));
    vertx.timer(3_500).await();
    assertThat(gaveUp).as("no merge was left unended").hasValue(0);
  }
}
