package dev.backup.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FolderSyncTest {
  @Test
  void movesMadeDuringAForceShareTheNextOneAndEachCallerWaitsForAForceThatCoversIt() throws Exception {
    AtomicLong moves = new AtomicLong();
    List<Long> covered = new CopyOnWriteArrayList<>();
    CountDownLatch firstMayEnd = new CountDownLatch(1);
    FolderSync sync = new FolderSync(dir -> {
      long upTo = moves.get(); // every move made before this force began
      if (covered.isEmpty()) {
        try {
          firstMayEnd.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      covered.add(upTo);
    });
    Path dir = Path.of("folder");
    List<String> problems = new CopyOnWriteArrayList<>();
    callersBehindAFirstForce(20, firstMayEnd, n -> {
      long mine = moves.incrementAndGet(); // the caller's move
      try {
        sync.sync(dir);
      } catch (java.io.IOException e) {
        problems.add(e.toString());
        return;
      }
      if (covered.stream().noneMatch(c -> c >= mine)) {
        problems.add("move " + mine + " returned before a force covered it: " + covered);
      }
    });
    assertThat(problems).isEmpty();
    assertThat(covered).hasSize(2).containsExactly(1L, 20L);
  }

  @Test
  void aLoneCallerForcesOnceEachTime() throws Exception {
    List<Path> forced = new ArrayList<>();
    FolderSync sync = new FolderSync(forced::add);
    sync.sync(Path.of("a"));
    sync.sync(Path.of("a"));
    sync.sync(Path.of("b"));
    assertThat(forced).containsExactly(Path.of("a"), Path.of("a"), Path.of("b"));
  }

  @Test
  void aForceThatFailsFailsItsCallerAndTheNextCallerForcesAgain() throws Exception {
    List<Path> forced = new ArrayList<>();
    boolean[] fail = {true};
    FolderSync sync = new FolderSync(dir -> {
      if (fail[0]) {
        fail[0] = false;
        throw new java.io.IOException("I/O error");
      }
      forced.add(dir);
    });
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> sync.sync(Path.of("a")))
        .isInstanceOf(java.io.IOException.class).hasMessageContaining("I/O error");
    sync.sync(Path.of("a"));
    assertThat(forced).containsExactly(Path.of("a"));
  }

  @Test
  void aForceThatFailsFailsEveryCallerItWasToCover() throws Exception {
    java.util.concurrent.atomic.AtomicInteger forces = new java.util.concurrent.atomic.AtomicInteger();
    CountDownLatch firstMayEnd = new CountDownLatch(1);
    FolderSync sync = new FolderSync(dir -> {
      int n = forces.incrementAndGet();
      if (n == 1) {
        try {
          firstMayEnd.await(); // the others come meanwhile, and wait for the next force
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      } else if (n == 2) {
        throw new java.io.IOException("I/O error");
      }
    });
    Path dir = Path.of("folder");
    List<String> failed = new CopyOnWriteArrayList<>();
    List<String> stored = new CopyOnWriteArrayList<>();
    callersBehindAFirstForce(10, firstMayEnd, n -> {
      try {
        sync.sync(dir);
        stored.add("caller " + n);
      } catch (java.io.IOException e) {
        failed.add("caller " + n + ": " + e.getMessage());
      }
    });
    // The first force served the first caller; the second, which failed, was the one the
    // nine others waited on: all nine fail, none forces again and says its move is durable.
    assertThat(stored).containsExactly("caller 0");
    assertThat(failed).hasSize(9).allMatch(m -> m.contains("I/O error"));
    assertThat(forces.get()).isEqualTo(2);
    // A caller after it forces again.
    sync.sync(dir);
    assertThat(forces.get()).isEqualTo(3);
  }

  /**
   * Runs {@code count} callers, each on a thread of its own with its number: the first
   * enters a force that lasts until {@code firstMayEnd} opens, which it does once all the
   * others wait while it runs (for the next force, not still for the lock: a thread parked
   * there is WAITING too). Returns once every caller has ended.
   */
  private static void callersBehindAFirstForce(int count, CountDownLatch firstMayEnd,
      java.util.function.IntConsumer caller) throws InterruptedException {
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int n = i;
      Thread t = new Thread(() -> caller.accept(n));
      threads.add(t);
      t.start();
      if (i == 0) {
        await().atMost(Duration.ofSeconds(10)).until(() -> t.getState() == Thread.State.WAITING);
      }
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> threads.stream().skip(1).allMatch(t -> java.util.Arrays
        .stream(t.getStackTrace()).anyMatch(f -> f.getMethodName().equals("awaitUninterruptibly"))));
    firstMayEnd.countDown();
    for (Thread t : threads) {
      t.join(10_000);
      assertThat(t.isAlive()).isFalse();
    }
  }
}
