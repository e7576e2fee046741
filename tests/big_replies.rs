//! Big replies from a real Pyro4 4.82 server, in every serializer: a 100k-entry dict and
//! set arrive whole and in the server's order, and a small call on another proxy issued
//! after them still completes.

mod common;

use common::{run_until, TestServer};
use pyro_async::runtime::{CallRequest, ContextOptions, Outcome, Proxy};
use pyro_async::serial::SerializerId;
use pyro_async::Value;
use std::sync::{Arc, Mutex};

type Results = Arc<Mutex<Vec<Outcome>>>;

fn call(p: &Proxy, method: &str, arg: Value, results: &Results) {
    let r = results.clone();
    p.call(
        CallRequest::new(method, vec![arg], vec![]),
        Box::new(move |o| r.lock().unwrap().push(o)),
    )
    .unwrap();
}

const N: usize = 100_000;

#[test]
fn a_100k_dict_and_set_in_every_serializer() {
    let server = TestServer::start(&[]);
    let ctx = common::new_context(ContextOptions::default());
    for ser in common::SERIALIZERS {
        let mut p = ctx.proxy(&server.uri("test.echo")).unwrap();
        p.set_serializer(ser);
        let mut q = ctx.proxy(&server.uri("test.echo")).unwrap();
        q.set_serializer(ser);
        let (dict, set, small): (Results, Results, Results) = Default::default();
        call(&p, "int_dict", Value::Int(N as i64), &dict);
        call(&p, "int_set", Value::Int(N as i64), &set);
        call(&q, "echo", Value::str("small"), &small);
        run_until(&ctx, &small, 1, 60);
        run_until(&ctx, &dict, 1, 60);
        run_until(&ctx, &set, 1, 60);
        let name = ser.name();
        let dict = dict.lock().unwrap()[0].as_ref().unwrap().value.clone();
        let Value::Dict(items) = dict else {
            panic!("{name}: not a dict")
        };
        assert_eq!(items.len(), N, "{name}");
        for (i, (k, v)) in items.iter().enumerate() {
            // json's object keys are strings
            let key_ok = match ser {
                SerializerId::Json => k.as_str() == Some(i.to_string().as_str()),
                _ => *k == Value::Int(i as i64),
            };
            assert!(key_ok && *v == Value::Int(i as i64), "{name}: entry {i}");
        }
        let set = set.lock().unwrap()[0].as_ref().unwrap().value.clone();
        let items = set
            .as_seq()
            .unwrap_or_else(|| panic!("{name}: {:?}", set.kind()));
        assert_eq!(items.len(), N, "{name}");
        let mut seen = vec![false; N];
        for v in items {
            seen[v.as_i64().unwrap() as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{name}: every element once");
        assert_eq!(
            small.lock().unwrap()[0].as_ref().unwrap().value,
            Value::str("small")
        );
    }
}
