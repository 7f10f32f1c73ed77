%%! -hidden
%% Which node leads a quorum queue, as each node of a cluster sees it: one line per sample,
%% "<node>=<answer> ..." in the order the nodes were given, where <answer> is the leader's node
%% name, "none" (the queue is not declared or has no leader) or "error" (the node did not answer).
%% One long-lived hidden Erlang node asking over distribution (rpc, 2 s per call), so a sample
%% costs milliseconds; `rabbitmqctl` boots a new Erlang VM per call. It stops when its standard
%% input closes, so it never outlives the test that started it.
%%   escript leader-probe.escript <probe node name> <queue> <every ms> <node>...
-mode(compile).

main([Name, Queue, Every | Nodes]) ->
    {ok, _} = net_kernel:start([list_to_atom(Name), shortnames]),
    spawn(fun watch_stdin/0),
    loop(list_to_binary(Queue), list_to_integer(Every), [list_to_atom(N) || N <- Nodes]).

watch_stdin() ->
    case io:get_line("") of
        eof -> halt(0);
        {error, _} -> halt(0);
        _ -> watch_stdin()
    end.

loop(Q, Every, Nodes) ->
    Self = self(),
    Askers = [spawn(fun() -> Self ! {self(), ask(N, Q)} end) || N <- Nodes],
    Answers = [receive {A, Answer} -> Answer end || A <- Askers],
    io:format("~s~n", [lists:join(" ", [[atom_to_list(N), "=", Answer] || {N, Answer} <- lists:zip(Nodes, Answers)])]),
    timer:sleep(Every),
    loop(Q, Every, Nodes).

ask(Node, Q) ->
    case rpc:call(Node, rabbit_amqqueue, lookup, [{resource, <<"/">>, queue, Q}], 2000) of
        {ok, Amq} ->
            case rpc:call(Node, amqqueue, get_pid, [Amq], 2000) of
                {_RaName, Leader} when is_atom(Leader), Leader =/= undefined -> atom_to_list(Leader);
                {badrpc, _} -> "error";
                _ -> "none"
            end;
        {error, not_found} -> "none";
        _ -> "error"
    end.
