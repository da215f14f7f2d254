package dev.backup.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import dev.backup.config.Role;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.FrameDecoder;
import dev.backup.protocol.Op;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A manager from before placement in batches reads a batch as one file without a name and
 * refuses it: the client then asks it one file at a time, and every file gets its answer.
 */
class PlaceBatchFallbackTest {
  private final Vertx vertx = Vertx.vertx();
  @TempDir
  Path dir;

  @AfterEach
  void close() {
    vertx.close().await();
  }

  @Test
  void aManagerThatRefusesBatchesIsAskedOneFileAtATime() throws Exception {
    List<Boolean> batches = new CopyOnWriteArrayList<>(); // per place request: was it a batch
    // The first answer waits until every upload has had time to ask for its place: the
    // others then wait behind it and go together, whatever this machine's speed.
    io.vertx.core.Promise<Void> allAsked = io.vertx.core.Promise.promise();
    NetServer manager = vertx.createNetServer().connectHandler(sock -> {
      FrameDecoder decoder = new FrameDecoder(new FrameDecoder.Listener() {
        @Override
        public void onFrame(Frame f) {
          JsonObject req = f.body();
          if (!"place".equals(req.getString("op"))) {
            sock.write(Frame.error(f.requestId(), ErrorCode.PROTOCOL, "unexpected").encode());
            return;
          }
          boolean batch = req.containsKey("batch");
          batches.add(batch);
          // The older manager: every file it is asked about is unchanged since version 7;
          // a batch is a file without a name. (Answered a little later, as over a network.)
          allAsked.future().onComplete(x -> vertx.setTimer(20, t -> sock.write((batch
              ? Frame.error(f.requestId(), ErrorCode.USAGE, "name is empty")
              : new Frame(Op.RESPONSE, f.requestId(), new JsonObject().put("unchanged", true).put("version", 7)))
              .encode())));
        }

        @Override
        public void onError(BackupException error) {
          sock.close();
        }
      });
      sock.handler(decoder::feed);
    });
    int port = manager.listen(0, "127.0.0.1").await().actualPort();
    try (BackupClient client = new BackupClient(vertx,
        TestSupport.config(Role.client, 0, 0, port, dir.resolve("client")))) {
      List<Future<BackupClient.Uploaded>> all = new ArrayList<>();
      List<Path> files = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        files.add(TestSupport.randomFile(dir.resolve("client/f" + i), 100 + i, i));
      }
      for (int i = 0; i < 20; i++) {
        // Its latest version has the same size, so the client asks whether it is unchanged.
        JsonObject latest = new JsonObject().put("size", 100L + i).put("sha256", "00").put("version", 7L);
        all.add(client.upload(files.get(i).toString(), "f" + i, 2, latest));
      }
      vertx.setTimer(300, t -> allAsked.complete());
      Future.all(all).await();
      for (Future<BackupClient.Uploaded> u : all) {
        assertThat(u.result().unchanged()).isTrue();
        assertThat(u.result().version()).isEqualTo(7);
      }
    } finally {
      manager.close().await();
    }
    assertThat(batches).as("one batch tried, then one file a time").contains(true);
    assertThat(batches.subList(batches.indexOf(true) + 1, batches.size())).isNotEmpty().doesNotContain(true);
    assertThat(batches.stream().filter(b -> !b).count()).isEqualTo(20);
  }
}
