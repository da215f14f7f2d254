package dev.backup.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backup.TestSupport;
import dev.backup.config.Role;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A request whose work takes long (verify, replicas) waits as long as the manager keeps
 * answering pings on its connection; one the manager stops answering, and any other request
 * not answered in time, fails with a clear error.
 */
class ManagerKeepAliveTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;

  @BeforeEach
  void shortTimes() {
    BackupClient.answerWithinMs = 2_000;
    BackupClient.keepAliveMs = 200;
  }

  @AfterEach
  void close() {
    BackupClient.answerWithinMs = 30_000;
    BackupClient.keepAliveMs = 15_000;
    vertx.close().await();
  }

  /** A manager that answers {@code verify} and {@code list} after {@code answerAfterMs}, and pings at once if {@code pings}. */
  private int manager(long answerAfterMs, boolean pings) {
    return vertx.createNetServer().connectHandler(sock -> {
      FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame f) {
          String op = f.body().getString("op");
          if ("ping".equals(op)) {
            if (pings) {
              sock.write(new Frame(Op.RESPONSE, f.requestId(), new JsonObject().put("role", "manager")).encode());
            }
            return;
          }
          vertx.setTimer(answerAfterMs, t -> sock.write(new Frame(Op.RESPONSE, f.requestId(),
              new JsonObject().put("answered", op)).encode()));
        }

        @Override
        public void onError(BackupException error) {
          sock.close();
        }
      });
      sock.handler(decoder::feed);
    }).listen(0, "127.0.0.1").await().actualPort();
  }

  private BackupClient client(int port) {
    return new BackupClient(vertx, TestSupport.config(Role.client, 0, 0, port, dir.resolve("client")));
  }

  @Test
  void aVerifyLongerThanTheAnswerTimeIsAnsweredWhileTheManagerAnswersPings() {
    try (BackupClient client = client(manager(5_000, true))) {
      JsonObject res = client.request(new JsonObject().put("op", "verify")).await();
      assertThat(res.getString("answered")).isEqualTo("verify");
    }
  }

  @Test
  void aVerifyFailsWhenTheManagerStopsAnsweringPings() {
    try (BackupClient client = client(manager(20_000, false))) {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> client.request(new JsonObject().put("op", "verify")).await())
          .isInstanceOfSatisfying(BackupException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT);
            assertThat(e.getMessage()).contains("did not answer a ping");
          });
      assertThat((System.nanoTime() - t0) / 1_000_000).as("well before the answer would come").isLessThan(10_000);
    }
  }

  @Test
  void anyOtherRequestMustBeAnsweredInTime() {
    try (BackupClient client = client(manager(5_000, true))) {
      assertThatThrownBy(() -> client.request(new JsonObject().put("op", "list")).await())
          .isInstanceOfSatisfying(BackupException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    }
  }
}
