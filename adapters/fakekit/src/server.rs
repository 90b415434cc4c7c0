use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{IntoEndpoint, Server};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server started by [`serve`]: its bound address, and a way to stop it.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s) and waits.
    ///
    /// # Errors
    /// The server's own I/O error, if it failed.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap_or_else(|join| Err(io::Error::other(join)))
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` (port 0 picks a free port) and serves `endpoint` in the
/// background until stopped or dropped.
///
/// # Errors
/// When the address cannot be bound (in use, no permission).
pub async fn serve<E>(endpoint: E, addr: SocketAddr) -> io::Result<RunningServer>
where
    E: IntoEndpoint + Send + 'static,
    E::Endpoint: 'static,
{
    let acceptor = TcpListener::bind(addr).into_acceptor().await?;
    let bound = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| io::Error::other("listener has no socket address"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                endpoint,
                async move {
                    let _ = stopped.await;
                },
                Some(Duration::from_secs(5)),
            )
            .await
    });
    Ok(RunningServer { addr: bound, stop: Some(stop), task })
}

#[cfg(test)]
mod tests {
    use poem::{Route, handler, post, web::Json};

    use super::*;
    use crate::WebhookEmitter;

    #[handler]
    fn hook(Json(body): Json<serde_json::Value>, tx: poem::web::Data<&tokio::sync::mpsc::Sender<serde_json::Value>>) {
        let _ = tx.try_send(body);
    }

    #[tokio::test]
    async fn serves_on_port_zero_and_receives_a_webhook() {
        use poem::EndpointExt;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<serde_json::Value>(4);
        let receiver =
            serve(Route::new().at("/hook", post(hook)).data(tx), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert_ne!(receiver.addr().port(), 0);
        let emitter = WebhookEmitter::new(Some(format!("{}/hook", receiver.url())));
        let status = emitter.emit(None, serde_json::json!({"imp_uid": "imp_1"})).unwrap().await.unwrap();
        assert_eq!(status, Some(200));
        assert_eq!(rx.recv().await.unwrap()["imp_uid"], "imp_1");
        receiver.stop().await.unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_receiver_yields_none_after_retries() {
        let emitter =
            WebhookEmitter::new(Some("http://127.0.0.1:9/none".into())).with_retries(2, Duration::from_millis(1));
        assert_eq!(emitter.emit(None, serde_json::json!({})).unwrap().await.unwrap(), None);
        assert!(WebhookEmitter::new(None).emit(None, serde_json::json!({})).is_none());
    }
}
