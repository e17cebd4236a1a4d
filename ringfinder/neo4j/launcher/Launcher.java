// An embedded Neo4j Community DBMS with a Bolt listener on 127.0.0.1, for development and CI.
//
// Started by ringfinder.neo4j.server (Java 11+ single-file source launch, no compile step):
//
//   java -Xmx512m [flags] -cp '<runtime>/lib/*' Launcher.java <home> <port> [key=value ...]
//
//   <home>   database home: data/ and logs/ are created below it; reusable across restarts
//   <port>   Bolt port on 127.0.0.1; 0 lets the OS pick one (the ready line tells which)
//   pagecache=<bytes>   page cache size                (server.memory.pagecache.size)
//   txmax=<bytes>       cap on all transactions' memory (dbms.memory.transaction.total.max)
//   plugins=<dir>       plugin folder (its jars must also be on -cp); apoc.* is unrestricted
//   txlogs=<policy>     transaction logs kept (db.tx_log.rotation.retention_policy);
//                       default "1G size": Neo4j's own default keeps 2 days of them, and
//                       a Bolt load of a 300k-person city wrote 8 GB in its first 12 minutes
//   checkpoint=<sec>    seconds between checkpoints (db.checkpoint.interval.time), after
//                       which logs beyond the policy are pruned; default 60 (Neo4j: 900)
//   stdin=watch|ignore  watch: shut down on a STOP line or when stdin closes (default);
//                       ignore: run until SIGTERM/SIGINT
//
// Authentication is disabled unless the environment variable RINGFINDER_NEO4J_PASSWORD is set,
// in which case the user neo4j gets that password (at least 8 characters).
//
// Prints "NEO4J_READY bolt://127.0.0.1:<port>" once the default database is available and
// "NEO4J_STOPPED" after a clean shutdown. Exit codes: 0 clean, 2 bad arguments, 1 start failure.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.kernel.internal.GraphDatabaseAPI;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

public class Launcher {
    private static final String HOST = "127.0.0.1";

    /** The stack trace, then one line naming the root cause (ringfinder quotes that line). */
    private static void failed(Throwable e) {
        e.printStackTrace(System.out);
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        System.out.println("NEO4J_FAILED " + root);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Launcher.java <home> <port> [pagecache=B] [txmax=B] "
                    + "[plugins=DIR] [txlogs=POLICY] [checkpoint=SECONDS] [stdin=watch|ignore]");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        Map<String, String> opts = new HashMap<>();
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq < 1) {
                System.err.println("bad option (want key=value): " + args[i]);
                System.exit(2);
            }
            opts.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        String password = System.getenv("RINGFINDER_NEO4J_PASSWORD");
        boolean auth = password != null && !password.isEmpty();

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, port))
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(HOST))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                // A test server has no clients left to drain at shutdown: stop Bolt in about a
                // second instead of the default 5 s + 5 s (internal settings of 5.26: a
                // version bump that renames them fails at the compile step, loudly).
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time,
                        Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time,
                        Duration.ofSeconds(1))
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout,
                        Duration.ofSeconds(5));
        // The data's home is the ringfinder workspace; this server holds a copy that can be
        // loaded again, so its transaction logs are kept for crash recovery only, bounded.
        String txlogs = opts.getOrDefault("txlogs", "1G size");
        long checkpoint = Long.parseLong(opts.getOrDefault("checkpoint", "60"));
        builder.setConfig(GraphDatabaseSettings.keep_logical_logs, txlogs)
                .setConfig(GraphDatabaseSettings.check_point_interval_time,
                        Duration.ofSeconds(checkpoint));
        if (opts.containsKey("pagecache")) {
            builder.setConfig(GraphDatabaseSettings.pagecache_memory,
                    Long.parseLong(opts.get("pagecache")));
        }
        if (opts.containsKey("txmax")) {
            builder.setConfig(GraphDatabaseSettings.memory_transaction_global_max_size,
                    Long.parseLong(opts.get("txmax")));
        }
        if (opts.containsKey("plugins")) {
            builder.setConfig(GraphDatabaseSettings.plugin_dir, Path.of(opts.get("plugins")))
                    .setConfig(GraphDatabaseSettings.procedure_unrestricted, List.of("apoc.*"));
        }
        System.out.println("NEO4J_CONFIG home=" + home + " "
                + BoltConnector.listen_address.name() + "=" + HOST + ":" + port + " "
                + GraphDatabaseSettings.pagecache_memory.name() + "=" + opts.get("pagecache") + " "
                + GraphDatabaseSettings.memory_transaction_global_max_size.name() + "="
                + opts.get("txmax") + " "
                + GraphDatabaseSettings.keep_logical_logs.name() + "=" + txlogs + " "
                + GraphDatabaseSettings.check_point_interval_time.name() + "=" + checkpoint + "s "
                + GraphDatabaseSettings.auth_enabled.name() + "=" + auth + " "
                + GraphDatabaseSettings.udc_enabled.name() + "=false "
                + HttpConnector.enabled.name() + "=false");
        System.out.flush();

        DatabaseManagementService dbms;
        try {
            dbms = builder.build();
        } catch (Throwable e) {
            failed(e);
            System.exit(1);
            return;
        }
        AtomicBoolean stopped = new AtomicBoolean(false);
        CountDownLatch done = new CountDownLatch(1);
        Runnable shutdown = () -> {
            if (stopped.compareAndSet(false, true)) {
                try {
                    dbms.shutdown();
                    System.out.println("NEO4J_STOPPED");
                } catch (Throwable e) {
                    System.out.println("NEO4J_STOP_FAILED " + e);
                    e.printStackTrace(System.out);
                } finally {
                    System.out.flush();
                    done.countDown();
                }
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(shutdown, "ringfinder-neo4j-shutdown"));

        int boltPort;
        try {
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            db.executeTransactionally("RETURN 1");
            if (auth) {
                try {
                    dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                            "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                            Map.of("password", password));
                } catch (RuntimeException e) {
                    // a restart on the same home: the user already has this password
                    boolean same = false;
                    for (Throwable t = e; t != null; t = t.getCause()) {
                        same |= String.valueOf(t.getMessage()).contains("cannot be the same");
                    }
                    if (!same) {
                        throw e;
                    }
                }
            }
            boltPort = ((GraphDatabaseAPI) db).getDependencyResolver()
                    .resolveDependency(ConnectorPortRegister.class)
                    .getLocalAddress(ConnectorType.BOLT)
                    .getPort();
        } catch (Throwable e) {
            failed(e);
            shutdown.run();
            System.exit(1);
            return;
        }
        System.out.println("NEO4J_READY bolt://" + HOST + ":" + boltPort);
        System.out.flush();

        if ("ignore".equals(opts.getOrDefault("stdin", "watch"))) {
            done.await(); // until a signal runs the shutdown hook
            return;
        }
        try (BufferedReader in = new BufferedReader(
                new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.trim().equalsIgnoreCase("STOP")) {
                    break;
                }
            }
        } catch (Exception e) {
            System.out.println("NEO4J_STDIN_CLOSED " + e);
        }
        shutdown.run();
        System.exit(0);
    }
}
