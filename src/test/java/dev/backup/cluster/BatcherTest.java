package dev.backup.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatcherTest {
  @Test
  void requestsMadeWhileABatchIsOutGoTogetherInOrderWithTheirOwnResults() {
    List<List<Integer>> sent = new ArrayList<>();
    List<Promise<List<Future<String>>>> answers = new ArrayList<>();
    Batcher<Integer, String> b = new Batcher<>(items -> {
      sent.add(items);
      Promise<List<Future<String>>> p = Promise.promise();
      answers.add(p);
      return p.future();
    }, 4);
    List<Future<String>> results = new ArrayList<>();
    for (int i = 1; i <= 7; i++) {
      results.add(b.submit(i));
    }
    assertThat(sent).containsExactly(List.of(1)); // idle: the first goes at once
    answers.get(0).complete(List.of(Future.succeededFuture("one")));
    assertThat(sent).containsExactly(List.of(1), List.of(2, 3, 4, 5)); // at most 4 in one
    List<Future<String>> second = new ArrayList<>();
    for (int i = 2; i <= 5; i++) {
      second.add(i == 3 ? Future.failedFuture(new IllegalStateException("refused 3")) : Future.succeededFuture("r" + i));
    }
    answers.get(1).complete(second);
    assertThat(sent).hasSize(3).last().isEqualTo(List.of(6, 7));
    answers.get(2).fail(new IllegalStateException("lost"));

    assertThat(results.get(0).result()).isEqualTo("one");
    assertThat(results.get(1).result()).isEqualTo("r2");
    assertThat(results.get(2).cause()).hasMessage("refused 3");
    assertThat(results.get(4).result()).isEqualTo("r5");
    assertThat(results.get(5).cause()).hasMessage("lost");
    assertThat(results.get(6).cause()).hasMessage("lost");
    assertThat(b.batches()).isEqualTo(3);
    // Idle again: the next request goes at once.
    b.submit(8);
    assertThat(sent).hasSize(4).last().isEqualTo(List.of(8));
  }
}
